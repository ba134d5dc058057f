"""The deployment record `streamrec job` keeps, and the checks made before anything stops."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.ops import lifecycle
from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.ops.errors import JobOperationError
from streamrec.stack.config import StackConfig
from streamrec.stack.flink_client import root_cause


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_record_round_trips_with_its_savepoints(config: StackConfig) -> None:
    assert Deployment.load(config, "job") is None
    savepoint = SavepointRecord("abc", "file:/sp/1", 1024, 1.5, 1, "rescale")
    Deployment("job", "abc", 2, ["--k", "5"], [savepoint]).save(config)
    loaded = Deployment.load(config, "job")
    assert loaded == Deployment("job", "abc", 2, ["--k", "5"], [savepoint])
    assert loaded is not None and loaded.latest_savepoint == savepoint
    assert not list(Deployment.path(config, "job").parent.glob("*.tmp"))


def test_bad_job_arguments_are_refused_with_argparse_reason(config: StackConfig) -> None:
    lifecycle.validate_job_args(config, "job", ["--k", "5"])
    with pytest.raises(JobOperationError, match=r"--k five.*invalid int value: 'five'"):
        lifecycle.validate_job_args(config, "job", ["--k", "five"])
    with pytest.raises(JobOperationError, match="unrecognized arguments: --bogus"):
        lifecycle.validate_job_args(config, "job", ["--bogus"])


@pytest.mark.parametrize("parallelism", [0, 129])
def test_parallelism_outside_the_max_is_refused_before_asking_flink(
    config: StackConfig, parallelism: int
) -> None:
    with pytest.raises(JobOperationError, match="between 1 and 128"):
        lifecycle.check_parallelism(config, parallelism, freed_slots=0)


def test_root_cause_is_the_last_caused_by_line() -> None:
    trace = (
        "java.util.concurrent.CompletionException: wrapper\n\tat x.y(Z.java:1)\n"
        "Caused by: org.apache.flink.X: middle\n"
        "Caused by: java.io.IOException: disk full\n\tat a.b(C.java:2)\n"
    )
    assert root_cause(trace) == "java.io.IOException: disk full"
    assert root_cause("java.lang.IllegalStateException: only line") == (
        "java.lang.IllegalStateException: only line"
    )
    assert root_cause("") == "(Flink gave no reason)"


def test_savepoint_size_is_summed_from_a_local_directory(tmp_path: Path) -> None:
    (tmp_path / "sp" / "op").mkdir(parents=True)
    (tmp_path / "sp" / "_metadata").write_bytes(b"x" * 100)
    (tmp_path / "sp" / "op" / "state").write_bytes(b"y" * 50)
    assert lifecycle.directory_bytes(f"file:{tmp_path / 'sp'}") == 150
    assert lifecycle.directory_bytes("s3://bucket/sp") == 0


def test_an_unreachable_flink_is_an_error_that_names_the_fix(tmp_path: Path) -> None:
    from streamrec.stack.errors import StackError
    from tests.integration.conftest import free_port

    config = StackConfig(data_dir=tmp_path, cache_dir=tmp_path, flink_rest_port=free_port())
    with pytest.raises(StackError, match=r"Flink is not reachable at .*stack up flink"):
        lifecycle.running_job_id(config, "job")
