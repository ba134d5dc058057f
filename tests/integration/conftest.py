"""One real stack per test session, on free ports and in a data dir of its own,
so a developer's demo stack on the default ports keeps running untouched."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamrec.model_registry.synthetic import generate
from streamrec.model_registry.train import TrainResult, train
from streamrec.stack import process
from streamrec.stack.config import StackConfig, default_cache_dir
from streamrec.stack.launcher import Stack
from tests.unit.conftest import SMALL_TRAIN, SMALL_WORLD


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_stack_config(data_dir: Path) -> StackConfig:
    return StackConfig(
        data_dir=data_dir,
        cache_dir=default_cache_dir(),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        cassandra_port=free_port(),
        cassandra_storage_port=free_port(),
        flink_rest_port=free_port(),
        flink_rpc_port=free_port(),
        flink_metrics_port=free_port(),
        mlflow_port=free_port(),
        keyspace="streamrec_test",
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = make_stack_config(tmp_path_factory.mktemp("stack"))
    launched = Stack(config)
    try:
        launched.up()
        yield launched
    finally:
        launched.down()
        leftovers = process.owned_pids(str(config.data_dir))
        assert leftovers == [], f"stack down left processes behind: {leftovers}"


@pytest.fixture(scope="session")
def stack_config(stack: Stack) -> StackConfig:
    return stack.config


@pytest.fixture
def unique_name() -> str:
    """A name no other test (or earlier run) uses: topics, keyspaces, models."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def small_training() -> TrainResult:
    """A small model trained once per session, for every test that runs the job."""
    data = generate(SMALL_WORLD)
    return train(data.events, data.item_categories, SMALL_TRAIN)
