"""``streamrec job cancel`` / ``stop --no-savepoint`` / ``--keep-savepoints`` on a fake Flink."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streamrec.cli.job import job
from streamrec.ops import lifecycle
from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.stack.config import StackConfig
from streamrec.stack.services.flink import FlinkService
from tests.unit.ops.fake_flink import FakeFlink, FakeJob, completed

JOB = "c" * 32
TRACE = "org.apache.flink.X: wrapper\nCaused by: pemja.core.PythonException: RecursionError\n"


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache")


@pytest.fixture
def flink(monkeypatch: pytest.MonkeyPatch) -> FakeFlink:
    return FakeFlink().install(monkeypatch)


def run(config: StackConfig, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(job, [args[0], "--data-dir", str(config.data_dir), *args[1:]])
    return result.exit_code, result.output


def restarting_job(config: StackConfig, flink: FakeFlink) -> Path:
    chk = FlinkService(config).checkpoint_dir / JOB / "chk-41"
    chk.mkdir(parents=True)
    (chk / "_metadata").write_bytes(b"m")
    flink.add(
        FakeJob(JOB, "rec", "RESTARTING", checkpoints=completed(f"file:{chk}", 41),
                exceptions=[{"stacktrace": TRACE}], tasks_running=False)
    )  # fmt: skip
    return chk


@pytest.mark.parametrize("command", [["cancel"], ["stop", "--no-savepoint"]])
def test_cancel_says_what_happened_and_how_to_resume(
    config: StackConfig, flink: FakeFlink, command: list[str]
) -> None:
    chk = restarting_job(config, flink)
    code, output = run(config, *command, "--name", "rec")
    assert code == 0, output
    assert flink.patches == [(f"/jobs/{JOB}", {"mode": "cancel"})]
    assert f"job rec ({JOB}) CANCELED (it was RESTARTING); no savepoint was taken" in output
    assert "its last failure: pemja.core.PythonException: RecursionError" in output
    assert "state since checkpoint 41" in output and "is not saved" in output
    assert f"newest retained checkpoint: file:{chk}" in output
    assert f"resume with: streamrec job deploy --name rec --from-savepoint file:{chk}" in output


def test_stop_of_a_restarting_job_fails_in_one_line_naming_cancel(
    config: StackConfig, flink: FakeFlink
) -> None:
    restarting_job(config, flink)
    code, output = run(config, "stop", "--name", "rec")
    assert code == 1
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("Error: job 'rec'")
    assert "`streamrec job cancel --name rec`" in lines[0]
    assert flink.patches == []


def test_cancel_without_a_job_is_one_error_line(config: StackConfig, flink: FakeFlink) -> None:
    code, output = run(config, "cancel", "--name", "rec")
    assert code == 1
    assert output.strip().splitlines() == [
        f"Error: no job named 'rec' is active on {config.flink_rest_url}; "
        "start it with `streamrec job deploy`"
    ]


def test_savepoint_prunes_to_keep_savepoints(
    config: StackConfig, flink: FakeFlink, monkeypatch: pytest.MonkeyPatch
) -> None:
    flink.add(FakeJob(JOB, "rec", "RUNNING"))
    root = FlinkService(config).savepoint_dir
    paths = []
    for n in range(3):
        path = root / f"savepoint-cccccc-{n:012x}"
        path.mkdir(parents=True)
        (path / "_metadata").write_bytes(b"m")
        paths.append(path)
    old = [SavepointRecord(JOB, f"file:{p}", 1, 0.1, n, "savepoint") for n, p in enumerate(paths)]
    Deployment("rec", JOB, 1, [], old[:2]).save(config)

    def take(*_args: object, **_kwargs: object) -> SavepointRecord:
        deployment = Deployment.load(config, "rec")
        assert deployment is not None
        deployment.savepoints.append(old[2])
        deployment.save(config)
        return old[2]

    monkeypatch.setattr(lifecycle, "take_savepoint", take)
    code, output = run(config, "savepoint", "--name", "rec", "--keep-savepoints", "1")
    assert code == 0, output
    assert "deleted 2 older savepoint(s) of rec, keeping the newest 1:" in output
    assert [p.exists() for p in paths] == [False, False, True]
