"""MLflow side: log training runs, register versions, manage aliases, fetch packages.

The package file itself is the registered artifact (``package/model.srpkg``), so what
``publish`` references is byte-for-byte what training evaluated, and the job fetches it
from the same artifact store (``package_location``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.model_registry.errors import PublishError, RegistryError

CHAMPION = "champion"
CHALLENGER = "challenger"
PACKAGE_DIR = "package"
PACKAGE_FILE = "model.srpkg"
PREVIOUS_CHAMPION_TAG = "previous_champion"


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: str
    run_id: str


class MlflowRegistry:
    """Thin wrapper over MlflowClient; the client is created on first use."""

    def __init__(self, tracking_uri: str, model_name: str, experiment: str = "streamrec") -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.experiment = experiment
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import mlflow
            from mlflow.tracking import MlflowClient

            mlflow.set_tracking_uri(self.tracking_uri)
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def log_and_register(
        self,
        params: dict[str, Any],
        metrics: dict[str, float],
        build_package: Callable[[str], bytes],
        extra_files: dict[str, bytes] | None = None,
    ) -> RegisteredVersion:
        """One run: params, metrics, the package as artifact; a new version aliased challenger.

        ``build_package`` gets the registry's version number so the package names it.
        """
        import mlflow

        client = self.client
        mlflow.set_experiment(self.experiment)
        with mlflow.start_run() as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            mlflow.log_metrics(metrics)
            try:
                client.get_registered_model(self.model_name)
            except Exception:  # MLflow raises RestException/MlflowException by backend
                client.create_registered_model(self.model_name)
            mv = client.create_model_version(
                self.model_name,
                source=f"runs:/{run.info.run_id}/{PACKAGE_DIR}",
                run_id=run.info.run_id,
            )
            package = build_package(str(mv.version))
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / PACKAGE_FILE
                path.write_bytes(package)
                mlflow.log_artifact(str(path), artifact_path=PACKAGE_DIR)
                for name, data in (extra_files or {}).items():
                    (Path(tmp) / name).write_bytes(data)
                    mlflow.log_artifact(str(Path(tmp) / name))
            client.set_registered_model_alias(self.model_name, CHALLENGER, mv.version)
        return RegisteredVersion(self.model_name, str(mv.version), run.info.run_id)

    def resolve(self, ref: str) -> str:
        """Version number for an alias (champion, challenger) or a number."""
        if ref.isdigit():
            self._version(ref)
            return ref
        try:
            return str(self.client.get_model_version_by_alias(self.model_name, ref).version)
        except Exception as ex:
            raise RegistryError(f"model {self.model_name} has no alias {ref!r}") from ex

    def alias_version(self, alias: str) -> str | None:
        try:
            return self.resolve(alias)
        except RegistryError:
            return None

    def package_bytes(self, version: str) -> bytes:
        """Download the package registered as ``version``."""
        import mlflow

        mv = self._version(version)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = mlflow.artifacts.download_artifacts(
                    run_id=mv.run_id,
                    artifact_path=f"{PACKAGE_DIR}/{PACKAGE_FILE}",
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                )
            except Exception as ex:
                raise RegistryError(
                    f"model {self.model_name} version {version}: no package artifact: {ex}"
                ) from ex
            return Path(local).read_bytes()

    def package_location(self, version: str) -> str:
        """A URI the job can fetch version ``version``'s package from (no mlflow needed)."""
        from streamrec.model_registry.artifact_store import mlflow_artifact_url

        mv = self._version(version)
        try:
            root = self.client.get_run(mv.run_id).info.artifact_uri
        except Exception as ex:  # MLflow raises RestException/MlflowException by backend
            raise RegistryError(f"model {self.model_name} version {version}: no run: {ex}") from ex
        try:
            return mlflow_artifact_url(f"{root}/{PACKAGE_DIR}/{PACKAGE_FILE}", self.tracking_uri)
        except PublishError as ex:
            raise RegistryError(f"model {self.model_name} version {version}: {ex}") from None

    def set_champion(self, version: str) -> str | None:
        """Point champion at ``version``; remember and return the previous champion."""
        previous = self.alias_version(CHAMPION)
        if previous is not None and previous != version:
            self.client.set_registered_model_tag(self.model_name, PREVIOUS_CHAMPION_TAG, previous)
        self.client.set_registered_model_alias(self.model_name, CHAMPION, version)
        return previous

    def previous_champion(self) -> str | None:
        tags = self.client.get_registered_model(self.model_name).tags or {}
        return tags.get(PREVIOUS_CHAMPION_TAG)

    def tag_version(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.model_name, version, key, value)

    def _version(self, version: str) -> Any:
        try:
            return self.client.get_model_version(self.model_name, version)
        except Exception as ex:
            raise RegistryError(f"model {self.model_name} has no version {version}") from ex


def log_run(
    tracking_uri: str,
    experiment: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
) -> str:
    """One MLflow run holding ``params`` and ``metrics`` (a quality measurement, no model
    registered); returns the run id. ``tracking_uri`` may be a server or ``sqlite:///`` file."""
    import mlflow

    try:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name) as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            mlflow.log_metrics(metrics)
    except Exception as ex:  # MLflow raises MlflowException/RestException/OSError by backend
        raise RegistryError(f"MLflow at {tracking_uri}: {ex}") from ex
    return str(run.info.run_id)


def _param(value: Any) -> Any:
    # MLflow params are strings of at most 6000 chars; long lists go in as their length.
    text = str(value)
    return text if len(text) <= 500 else f"<{type(value).__name__} of {len(value)}>"
