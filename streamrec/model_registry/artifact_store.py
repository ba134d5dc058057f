"""Where package bytes live, seen from the publisher: store them, and say where they are.

A registered MLflow version's package already lives in MLflow's artifact store
(``MlflowRegistry.package_location`` names it). Packages that were never registered (the
benchmark's, the soak test's, a test's deliberately bad ones) are stored here under their
sha256, through the same MLflow server's artifact proxy or in a local directory; either
way the returned URI is one ``artifact_fetch`` can read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlparse

from streamrec.model_registry.errors import PublishError

# MLflow's artifact proxy (`mlflow server --artifacts-destination`): GET downloads, PUT uploads.
MLFLOW_ARTIFACTS_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"
PACKAGES_PREFIX = "streamrec-packages"


class ArtifactStore(Protocol):
    def put(self, package: bytes) -> str:
        """Store ``package``; return a URI the job's fetcher can read it from."""
        ...


class MlflowArtifactStore:
    """Content-addressed uploads through the MLflow server's artifact proxy."""

    def __init__(self, tracking_url: str, timeout_s: float = 120.0) -> None:
        self.tracking_url = tracking_url.rstrip("/")
        self.timeout_s = timeout_s

    def put(self, package: bytes) -> str:
        import requests

        digest = hashlib.sha256(package).hexdigest()
        url = f"{self.tracking_url}{MLFLOW_ARTIFACTS_ROUTE}/{PACKAGES_PREFIX}/{digest}/model.srpkg"
        try:
            response = requests.put(url, data=package, timeout=self.timeout_s)
        except requests.RequestException as ex:
            raise PublishError(f"cannot upload the package to {self.tracking_url}: {ex}") from ex
        if response.status_code != 200:
            raise PublishError(
                f"uploading the package to {url} failed: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        return url


class FileArtifactStore:
    """Packages as files named by sha256 in a directory every TaskManager can read."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, package: bytes) -> str:
        digest = hashlib.sha256(package).hexdigest()
        path = self.root / f"{digest}.srpkg"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
                with os.fdopen(fd, "wb") as out:
                    out.write(package)
                os.replace(tmp, path)
        except OSError as ex:
            raise PublishError(f"cannot store the package under {self.root}: {ex}") from ex
        return path.resolve().as_uri()


def mlflow_artifact_url(artifact_uri: str, tracking_url: str) -> str:
    """A fetchable URL for an MLflow artifact URI (``mlflow-artifacts:/...``, file, path).

    ``mlflow-artifacts:/<path>`` is MLflow's name for a file behind the server's proxy; the
    HTTP form is ``<server>/api/2.0/mlflow-artifacts/artifacts/<path>``.
    """
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "mlflow-artifacts":
        base = f"http://{parsed.netloc}" if parsed.netloc else tracking_url.rstrip("/")
        return f"{base}{MLFLOW_ARTIFACTS_ROUTE}/{quote(parsed.path.lstrip('/'))}"
    if parsed.scheme in ("http", "https", "file"):
        return artifact_uri
    if parsed.scheme == "" and artifact_uri.startswith("/"):
        return Path(artifact_uri).as_uri()
    raise PublishError(
        f"artifact location {artifact_uri!r} is not one the job can fetch "
        "(http(s), file or MLflow's artifact proxy)"
    )
