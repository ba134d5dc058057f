"""The model path on the real stack: generate -> train (MLflow server) -> promote
-> publish a signed reference (Kafka) -> the job fetches the package from MLflow's artifact
store and serves it; a plain consumer verifies and loads the same -> rollback.

Runs the ``streamrec model`` CLI as a user would, as subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mlflow import MlflowClient

from streamrec.model_package.artifact_fetch import ArtifactFetcher
from streamrec.model_package.package import load_package
from streamrec.model_package.reference import ModelReference, parse_reference
from streamrec.model_package.signing import load_public_key, trusted_keys, verify
from streamrec.model_registry.publisher import consume_references
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.keys import public_key_path
from streamrec.state.features import default_spec
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    now_ms,
    submit_job,
)
from tests.polling import wait_for


def streamrec(args: list[str], config: StackConfig) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.mlflow_url,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap,
        # The default signing key is the stack's (`stack up` made it in its data dir).
        "STREAMREC_HOME": str(config.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "streamrec.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def published_references(config: StackConfig, topic: str) -> list[ModelReference]:
    """Every reference on ``topic``, each verified with the stack's public key."""
    keys = trusted_keys([load_public_key(public_key_path(config))])
    references = [parse_reference(v) for v in consume_references(config.kafka_bootstrap, topic, 5)]
    for reference in references:
        verify(reference, keys)
    return references


def test_train_register_promote_publish_serve_rollback(
    stack_config: StackConfig, unique_name: str, tmp_path: Path
) -> None:
    topics = JobTopics(unique_name)
    topic = topics.models
    job_id = submit_job(stack_config, topics)
    data = tmp_path / "data"
    generated = streamrec(
        [
            "model",
            "generate",
            "--out-dir",
            str(data),
            "--users",
            "600",
            "--items",
            "400",
            "--days",
            "14",
        ],
        stack_config,
    )
    assert generated.returncode == 0, generated.stderr
    train_args = [
        "model",
        "train",
        "--model-name",
        unique_name,
        "--events",
        str(data / "events.jsonl"),
        "--items",
        str(data / "items.csv"),
        "--epochs",
        "2",
    ]

    first = streamrec(train_args, stack_config)
    assert first.returncode == 0, first.stderr
    assert f"registered {unique_name} version 1" in first.stdout

    client = MlflowClient(stack_config.mlflow_url, stack_config.mlflow_url)
    version_1 = client.get_model_version_by_alias(unique_name, "challenger")
    run = client.get_run(version_1.run_id)
    assert version_1.version == "1"
    assert {"recall_at_20", "pop_recall_at_20", "ndcg_at_20"} <= set(run.data.metrics)

    promoted = streamrec(["model", "promote", "--model-name", unique_name], stack_config)
    assert promoted.returncode == 0, promoted.stderr
    assert client.get_model_version_by_alias(unique_name, "champion").version == "1"

    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    events = EventProducer(stack_config.kafka_bootstrap, topics.events)

    def serving_version() -> str:
        event_id = f"probe-{uuid.uuid4().hex[:10]}"
        events.send([{"event_id": event_id, "user_id": "probe", "item_id": "i1",
                      "type": "view", "ts": now_ms()}])  # fmt: skip
        return str(recs.wait_for_events({event_id})[event_id]["model_version"])

    try:
        assert serving_version() == "fallback:popularity"
        started = time.monotonic()
        published = streamrec(
            ["model", "publish", "--model-name", unique_name, "--topic", topic], stack_config
        )
        assert published.returncode == 0, published.stderr
        # The job fetches the registered artifact from MLflow, verifies and serves it.
        wait_for(lambda: serving_version() == "1", 120, "version 1 serving")
        print(f"publish -> serving (CLI included): {time.monotonic() - started:.1f} s")
    finally:
        recs.close()
        flink_client.cancel_job(stack_config, job_id)
    [reference] = published_references(stack_config, topic)
    assert "/api/2.0/mlflow-artifacts/artifacts/" in reference.uri
    package = ArtifactFetcher(tmp_path / "cache").fetch(reference)
    loaded = load_package(package, default_spec(), reference.sha256)
    assert (loaded.model_name, loaded.version) == (unique_name, "1")
    assert reference.sha256[:16] in published.stdout

    second = streamrec(train_args, stack_config)
    assert second.returncode == 0, second.stderr
    # A margin of -100% demands twice the champion's metrics: refused, and says why.
    refused = streamrec(
        ["model", "promote", "--model-name", unique_name, "--margin", "-1"], stack_config
    )
    assert refused.returncode == 1
    assert "refusing to promote" in refused.stderr and "recall_at_20" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert client.get_model_version_by_alias(unique_name, "champion").version == "1"

    forced = streamrec(
        ["model", "promote", "--model-name", unique_name, "--margin", "-1", "--force"],
        stack_config,
    )
    assert forced.returncode == 0, forced.stderr
    republished = streamrec(
        ["model", "publish", "--model-name", unique_name, "--topic", topic], stack_config
    )
    assert republished.returncode == 0, republished.stderr
    assert client.get_model_version_by_alias(unique_name, "champion").version == "2"

    rolled_back = streamrec(
        ["model", "rollback", "--model-name", unique_name, "--topic", topic], stack_config
    )
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert client.get_model_version_by_alias(unique_name, "champion").version == "1"
    assert [r.version for r in published_references(stack_config, topic)] == ["1", "2", "1"]
