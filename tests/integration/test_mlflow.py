"""MLflow tracking server: runs, artifacts and the model registry, via the client."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow import MlflowClient

from streamrec.stack.config import StackConfig


def test_run_metric_artifact_and_registered_version(
    stack_config: StackConfig, unique_name: str, tmp_path: Path
) -> None:
    client = MlflowClient(
        tracking_uri=stack_config.mlflow_url, registry_uri=stack_config.mlflow_url
    )
    experiment_id = client.create_experiment(unique_name)
    run = client.create_run(experiment_id)
    client.log_param(run.info.run_id, "embedding_dim", "64")
    client.log_metric(run.info.run_id, "recall_at_20", 0.42)
    artifact = tmp_path / "notes.txt"
    artifact.write_text("trained on the past, evaluated on the future\n")
    client.log_artifact(run.info.run_id, str(artifact))
    client.set_terminated(run.info.run_id)

    client.create_registered_model(unique_name)
    version = client.create_model_version(
        unique_name, f"runs:/{run.info.run_id}/notes.txt", run.info.run_id
    )
    client.set_registered_model_alias(unique_name, "champion", version.version)

    fetched = client.get_run(run.info.run_id)
    assert fetched.data.metrics["recall_at_20"] == 0.42
    assert fetched.data.params["embedding_dim"] == "64"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["notes.txt"]
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id,
        artifact_path="notes.txt",
        dst_path=str(tmp_path / "dl"),
        tracking_uri=stack_config.mlflow_url,
    )
    assert Path(downloaded).read_text() == artifact.read_text()
    by_alias = client.get_model_version_by_alias(unique_name, "champion")
    assert (by_alias.version, by_alias.run_id) == (version.version, run.info.run_id)
