import pytest

from streamrec.model_registry.errors import RegistryError
from streamrec.model_registry.mlflow_registry import CHALLENGER, CHAMPION, MlflowRegistry


def test_register_resolve_download_and_champion_history(tmp_path, package_bytes: bytes) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment("streamrec", artifact_location=str(tmp_path / "artifacts"))
    reg = MlflowRegistry(uri, "m")
    v1 = reg.log_and_register(
        {"epochs": 1}, {"recall_at_20": 0.2}, lambda v: package_bytes + v.encode()
    )
    v2 = reg.log_and_register(
        {"epochs": 2}, {"recall_at_20": 0.3}, lambda v: package_bytes + v.encode()
    )
    assert (v1.version, v2.version) == ("1", "2")
    assert reg.resolve(CHALLENGER) == "2"
    assert reg.package_bytes("1") == package_bytes + b"1"
    assert reg.client.get_run(v2.run_id).data.metrics["recall_at_20"] == 0.3
    assert reg.set_champion("1") is None
    assert reg.set_champion("2") == "1"
    assert reg.resolve(CHAMPION) == "2" and reg.previous_champion() == "1"
    with pytest.raises(RegistryError, match="no version 9"):
        reg.resolve("9")
