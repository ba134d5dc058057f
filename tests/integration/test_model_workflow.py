"""The offline half on the real stack: generate -> train (MLflow server) -> promote
-> publish (Kafka) -> a plain consumer verifies and loads -> rollback.

Runs the ``streamrec model`` CLI as a user would, as subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from streamrec.model_registry.package import load_package, package_sha256
from streamrec.model_registry.publisher import consume_packages
from streamrec.stack.config import StackConfig
from streamrec.stack.topics import MODELS_MAX_MESSAGE_BYTES, TopicSpec, ensure_topics
from streamrec.state.features import default_spec


def streamrec(args: list[str], config: StackConfig) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": config.mlflow_url,
        "KAFKA_BOOTSTRAP_SERVERS": config.kafka_bootstrap,
    }
    return subprocess.run(
        [sys.executable, "-m", "streamrec.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def latest_package_per_version(config: StackConfig, topic: str) -> list[bytes]:
    return list(consume_packages(config.kafka_bootstrap, topic, timeout_s=5))


def test_train_register_promote_publish_rollback(
    stack_config: StackConfig, unique_name: str, tmp_path: Path
) -> None:
    topic = f"{unique_name}_models"
    ensure_topics(
        stack_config.kafka_bootstrap,
        [
            TopicSpec(
                topic,
                1,
                {"cleanup.policy": "compact", "max.message.bytes": str(MODELS_MAX_MESSAGE_BYTES)},
            )
        ],
    )
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

    published = streamrec(
        ["model", "publish", "--model-name", unique_name, "--topic", topic], stack_config
    )
    assert published.returncode == 0, published.stderr
    packages = latest_package_per_version(stack_config, topic)
    assert len(packages) == 1
    loaded = load_package(packages[0], default_spec())
    assert (loaded.model_name, loaded.version) == (unique_name, "1")
    assert package_sha256(packages[0])[:16] in published.stdout

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
    versions = [
        load_package(p, default_spec()).version
        for p in latest_package_per_version(stack_config, topic)
    ]
    assert versions == ["1", "2", "1"]
