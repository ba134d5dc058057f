"""Cancelling a job that cannot take a savepoint, and savepoint retention, on a fake Flink."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.ops import lifecycle, retention
from streamrec.ops.deployments import Deployment, SavepointRecord
from streamrec.ops.errors import JobNotRunningError, JobOperationError
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.errors import StackError
from streamrec.stack.services.flink import FlinkService
from tests.unit.ops.fake_flink import FakeFlink, FakeJob, completed, restored

JOB = "a" * 32
TRACE = "java.lang.Exception: wrapper\nCaused by: java.lang.RecursionError: too deep\n"


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(data_dir=tmp_path, cache_dir=tmp_path / "cache")


@pytest.fixture
def flink(monkeypatch: pytest.MonkeyPatch) -> FakeFlink:
    return FakeFlink().install(monkeypatch)


def checkpoint(config: StackConfig, job_id: str, number: int, complete: bool = True) -> Path:
    directory = FlinkService(config).checkpoint_dir / job_id / f"chk-{number}"
    directory.mkdir(parents=True)
    if complete:
        (directory / "_metadata").write_bytes(b"m")
    return directory


def savepoint(config: StackConfig, name: str, complete: bool = True) -> Path:
    directory = FlinkService(config).savepoint_dir / name
    directory.mkdir(parents=True)
    if complete:
        (directory / "_metadata").write_bytes(b"m")
    return directory


def no_tick(_line: str) -> None:
    return None


def test_cancel_of_a_restarting_job_waits_for_canceled_and_names_the_checkpoint(
    config: StackConfig, flink: FakeFlink
) -> None:
    chk = checkpoint(config, JOB, 7)
    flink.add(
        FakeJob(JOB, "rec", "RESTARTING", checkpoints=completed(f"file:{chk}"),
                exceptions=[{"stacktrace": TRACE}])
    )  # fmt: skip
    ticks: list[str] = []
    result = retention.cancel(config, "rec", tick=ticks.append)
    assert flink.patches == [(f"/jobs/{JOB}", {"mode": "cancel"})]
    assert result.final_state == "CANCELED" and result.state_before == "RESTARTING"
    assert result.last_failure == "java.lang.RecursionError: too deep"
    assert result.resume_from == retention.RetainedCheckpoint(
        f"file:{chk}", "checkpoint", "checkpoint 7", 5000
    )
    assert any("CANCELLING" in t for t in ticks)


def test_a_savepoint_newer_than_every_checkpoint_is_the_resume_point(
    config: StackConfig, flink: FakeFlink
) -> None:
    """The newest snapshot re-reads the least; its pending Kafka transactions are committed
    when the job resumes from it."""
    chk = checkpoint(config, JOB, 7)
    sp = savepoint(config, "savepoint-aaaaaa-0123456789ab")
    stats = completed(f"file:{chk}", 7)
    stats["latest"]["savepoint"] = {"id": 8, "external_path": f"file:{sp}"}
    flink.add(FakeJob(JOB, "rec", "RUNNING", checkpoints=stats))
    resume = retention.cancel(config, "rec", tick=no_tick).resume_from
    assert resume is not None
    assert (resume.path, resume.kind, resume.what) == (f"file:{sp}", "savepoint", "savepoint 8")
    # An older savepoint does not win over a newer checkpoint.
    stats["latest"]["savepoint"]["id"] = 6
    flink.add(FakeJob("d" * 32, "rec2", "RUNNING", checkpoints=stats))
    resume = retention.cancel(config, "rec2", tick=no_tick).resume_from
    assert resume is not None and resume.path == f"file:{chk}"


def test_a_checkpoint_on_disk_newer_than_the_cached_statistics_is_the_resume_point(
    config: StackConfig, flink: FakeFlink
) -> None:
    """Flink's REST statistics are cached for 3 s: a checkpoint that completed (and
    committed its Kafka output) just before the cancel can be missing from them. Resuming
    from the savepoint they name would emit that output twice (seen on the real stack)."""
    older = checkpoint(config, JOB, 7)
    sp = savepoint(config, "savepoint-aaaaaa-0123456789ab")
    newest = checkpoint(config, JOB, 9)
    stats = completed(f"file:{older}", 7)
    stats["latest"]["savepoint"] = {"id": 8, "external_path": f"file:{sp}"}
    flink.add(FakeJob(JOB, "rec", "RUNNING", checkpoints=stats))
    resume = retention.cancel(config, "rec", tick=no_tick).resume_from
    assert resume is not None
    assert (resume.path, resume.kind, resume.what) == (
        f"file:{newest}",
        "checkpoint",
        "checkpoint 9",
    )


def test_cancel_falls_back_to_the_newest_complete_checkpoint_on_disk(
    config: StackConfig, flink: FakeFlink
) -> None:
    checkpoint(config, JOB, 3)
    newest = checkpoint(config, JOB, 12)
    checkpoint(config, JOB, 13, complete=False)  # being written when the job was cancelled
    # Flink names a checkpoint whose directory is gone: not resumable.
    gone = completed(f"file:{config.data_dir}/nowhere/chk-14", 14)
    flink.add(FakeJob(JOB, "rec", "RUNNING", checkpoints=gone))
    result = retention.cancel(config, "rec", tick=no_tick)
    assert result.resume_from is not None
    assert result.resume_from.path == f"file:{newest}"
    assert result.resume_from.what == "checkpoint 12"
    assert result.last_failure is None


def test_cancel_of_a_job_with_no_checkpoint_names_what_it_was_restored_from(
    config: StackConfig, flink: FakeFlink
) -> None:
    source = savepoint(config, "savepoint-aaaaaa-0123456789ab")
    flink.add(FakeJob(JOB, "rec", "RESTARTING", checkpoints=restored(f"file:{source}")))
    result = retention.cancel(config, "rec", tick=no_tick)
    assert result.resume_from is not None
    assert result.resume_from.path == f"file:{source}"
    assert result.resume_from.what == "the savepoint it was restored from"


def test_cancel_with_nothing_retained_says_so(config: StackConfig, flink: FakeFlink) -> None:
    flink.add(FakeJob(JOB, "rec", "RESTARTING"))
    assert retention.cancel(config, "rec", tick=no_tick).resume_from is None


def test_cancel_of_no_active_job_is_one_line_naming_the_fix(
    config: StackConfig, flink: FakeFlink
) -> None:
    flink.add(FakeJob(JOB, "rec", "CANCELED"))
    with pytest.raises(JobNotRunningError) as caught:
        retention.cancel(config, "rec", tick=no_tick)
    message = str(caught.value)
    assert "\n" not in message
    assert f"its last run, {JOB}, is CANCELED" in message
    assert "`streamrec job deploy`" in message
    assert flink.patches == []


def test_a_cancel_that_does_not_end_names_where_to_look(
    config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    flink = FakeFlink(polls_to_cancel=10**9).install(monkeypatch)
    flink.add(FakeJob(JOB, "rec", "RESTARTING"))
    with pytest.raises(JobOperationError, match=r"CANCELLING\); check it with `streamrec job st"):
        retention.cancel(config, "rec", tick=no_tick, timeout_s=0)


def test_stop_of_a_restarting_job_says_to_cancel_it(config: StackConfig, flink: FakeFlink) -> None:
    flink.add(FakeJob(JOB, "rec", "RESTARTING", tasks_running=False))
    with pytest.raises(JobNotRunningError) as caught:
        lifecycle.take_savepoint(config, "rec", stop=True, reason="stop", tick=no_tick)
    message = str(caught.value)
    assert "\n" not in message
    assert "cannot take a savepoint" in message
    assert "`streamrec job cancel --name rec`" in message


def test_a_refused_or_failed_stop_savepoint_says_to_cancel(
    config: StackConfig, flink: FakeFlink, monkeypatch: pytest.MonkeyPatch
) -> None:
    flink.add(FakeJob(JOB, "rec", "RUNNING"))

    def refused(*_args: object, **_kwargs: object) -> str:
        raise StackError(f"Flink refused the savepoint of job {JOB}: HTTP 409 busy")

    monkeypatch.setattr(flink_client, "trigger_savepoint", refused)
    with pytest.raises(JobOperationError, match=r"409 busy; retry, or stop it without a savepo"):
        lifecycle.take_savepoint(config, "rec", stop=True, reason="stop", tick=no_tick)

    def failed(*_args: object) -> str:
        raise StackError(f"savepoint of job {JOB} failed: java.io.IOException: task failed")

    monkeypatch.setattr(flink_client, "trigger_savepoint", lambda *_a, **_k: "trigger")
    monkeypatch.setattr(flink_client, "savepoint_result", failed)
    with pytest.raises(JobOperationError) as caught:
        lifecycle.take_savepoint(config, "rec", stop=True, reason="stop", tick=no_tick)
    message = str(caught.value)
    assert "\n" not in message
    assert "it was not stopped" in message and "`streamrec job cancel --name rec`" in message


def record(path: Path | str, taken_ms: int) -> SavepointRecord:
    location = path if isinstance(path, str) else f"file:{path}"
    return SavepointRecord(JOB, location, 1, 0.1, taken_ms, "stop")


def test_prune_keeps_the_newest_and_deletes_only_flink_savepoints_of_this_job(
    config: StackConfig, flink: FakeFlink, tmp_path: Path
) -> None:
    sps = [savepoint(config, f"savepoint-aaaaaa-{n:012x}") for n in range(6)]
    hand_made = savepoint(config, "savepoint-bbbbbb-0000000000ff")  # not in the record
    renamed = savepoint(config, "my-backup")  # not a name Flink gives
    incomplete = savepoint(config, "savepoint-aaaaaa-00000000aaaa", complete=False)
    outside = tmp_path / "elsewhere" / "savepoint-aaaaaa-00000000bbbb"
    outside.mkdir(parents=True)
    (outside / "_metadata").write_bytes(b"m")
    records = [record(p, n) for n, p in enumerate(sps)]
    records += [record(renamed, -3), record(incomplete, -2), record(outside, -1)]
    records += [record("s3://bucket/savepoint-aaaaaa-00000000cccc", -4)]
    Deployment("rec", JOB, 1, [], records).save(config)
    # Another job runs, restored from the second-oldest: it stays.
    flink.add(FakeJob("b" * 32, "other", "RUNNING", checkpoints=restored(f"file:{sps[1]}")))

    deleted = retention.prune_savepoints(config, "rec", keep=2)

    assert {r.path for r in deleted} == {f"file:{p}" for p in (sps[0], sps[2], sps[3])}
    assert [p.exists() for p in sps] == [False, True, False, False, True, True]
    for kept in (hand_made, renamed, incomplete, outside):
        assert kept.exists()
    loaded = Deployment.load(config, "rec")
    assert loaded is not None
    assert {r.path for r in loaded.savepoints} == {r.path for r in records} - {
        r.path for r in deleted
    }


def test_prune_keeps_everything_when_told_or_when_flink_cannot_say(
    config: StackConfig, flink: FakeFlink
) -> None:
    sps = [savepoint(config, f"savepoint-aaaaaa-{n:012x}") for n in range(3)]
    Deployment("rec", JOB, 1, [], [record(p, n) for n, p in enumerate(sps)]).save(config)
    assert retention.prune_savepoints(config, "rec", keep=0) == []
    assert retention.prune_savepoints(config, "rec", keep=3) == []
    flink.add(FakeJob("b" * 32, "other", "RUNNING"))
    flink.fail_checkpoints = True
    assert retention.prune_savepoints(config, "rec", keep=1) == []
    assert all(p.exists() for p in sps)
    assert retention.prune_savepoints(config, "nobody", keep=1) == []


def test_cancel_job_sends_patch_mode_cancel(
    config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    sent: list[tuple[str, object]] = []

    class Reply:
        status_code = 202

    def patch(url: str, params: object = None, timeout: float = 0) -> Reply:
        sent.append((url, params))
        return Reply()

    monkeypatch.setattr(requests, "patch", patch)
    flink_client.cancel_job(config, JOB)
    assert sent == [(f"{config.flink_rest_url}/jobs/{JOB}", {"mode": "cancel"})]


def test_root_cause_of_a_python_failure_is_the_python_exception_line() -> None:
    trace = (
        "org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat a.b(C.java:1)\n"
        "Caused by: java.lang.RuntimeException: Error received from SDK harness for "
        "instruction 1: Traceback (most recent call last):\n"
        '  File "/x/operations.py", line 9, in process\n    raise RuntimeError("x")\n'
        "ValueError: first\n\nDuring handling of the above exception, another exception "
        "occurred:\n\nTraceback (most recent call last):\n"
        '  File "/tmp/job.py", line 12, in step\n    raise RuntimeError("probe told to fail")\n'
        "RuntimeError: probe told to fail\n\n\tat org.apache.beam.X.y(X.java:3)\n"
    )
    assert flink_client.root_cause(trace) == (
        "java.lang.RuntimeException: Error received from SDK harness for instruction 1: "
        "RuntimeError: probe told to fail"
    )
