from __future__ import annotations

from streamrec.model_package.artifact_fetch import ArtifactFetcher
from streamrec.model_registry.mlflow_registry import MlflowRegistry
from streamrec.model_registry.publisher import reference_for


def test_package_location_is_fetchable_without_mlflow(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("streamrec", artifact_location=str(tmp_path / "artifacts"))
    registry = MlflowRegistry(uri, "m")
    registry.log_and_register({}, {"recall_at_20": 0.1}, lambda v: b"package " + v.encode())
    location = registry.package_location("1")
    assert location.startswith("file:///") and location.endswith("package/model.srpkg")
    reference = reference_for(b"package 1", location, "m", "1")
    assert ArtifactFetcher(tmp_path / "cache").fetch(reference) == b"package 1"
