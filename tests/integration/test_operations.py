"""Operating the job on the real stack while events flow: rescale, upgrade, failover.

Each test deploys the job with ``streamrec job deploy`` on topics of its own, streams events
from a background producer, operates on it, stops the stream, and then checks the whole run
with :func:`check_delivery`: exactly one recommendation per event (read_committed), user state
counts intact, Cassandra holding each user's latest answer.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from streamrec.model_package.package import build_package
from streamrec.model_registry.train import TrainResult
from streamrec.ops.deployments import Deployment
from streamrec.ops.lifecycle import restart_count, restarted_since
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.launcher import Stack
from streamrec.stack.services.flink import FlinkService
from tests.integration.job_harness import now_ms, wait_for
from tests.integration.ops_harness import (
    EventStream,
    OperatedJob,
    check_delivery,
    operated_job,
    streamrec_job,
    wipe_topic,
)

RATE = 40.0  # events/s: enough to be mid-stream at every step, light on 2 cores
OUTAGE_S = 30.0


@pytest.fixture(scope="module")
def package(small_training: TrainResult) -> bytes:
    result = small_training
    return build_package(result.artifacts, "ops-test-model", "1", result.metrics, created_ms=1)


def stream_for(job: OperatedJob) -> EventStream:
    stream = EventStream(job.config, job.topics.events, job.users, RATE).start()
    job.wait_flowing(stream)
    return stream


def test_rescale_2_to_1_to_2_keeps_state_and_loses_nothing(
    stack_config: StackConfig, package: bytes
) -> None:
    with operated_job(stack_config, package, parallelism=2) as job:
        stream = stream_for(job)
        for parallelism in (1, 2):
            before = job.job_id()
            output = streamrec_job(
                stack_config, "rescale", "--name", job.name, "--parallelism", str(parallelism)
            )
            assert re.search(r"savepoint file:\S+", output), output
            after = job.job_id()
            assert after != before
            assert flink_client.parallelism(flink_client.job_details(stack_config, after)) == (
                parallelism
            )
            # Broadcast state was copied to every new subtask: no re-publish needed.
            job.wait_serving(1, timeout_s=60)
            job.wait_flowing(stream)
        got = check_delivery(job, stream.stop())
        assert {r["model_version"] for r in got.values()} == {"1"}
        record = Deployment.load(stack_config, job.name)
        assert record is not None and [s.reason for s in record.savepoints] == ["rescale"] * 2


def test_upgrade_changes_a_parameter_from_a_savepoint(
    stack_config: StackConfig, package: bytes
) -> None:
    with operated_job(stack_config, package, parallelism=1, job_args=["--k", "10"]) as job:
        stream = stream_for(job)
        # Empty the models topic: after the upgrade, the model can only come from state.
        wipe_topic(stack_config, job.topics.models)
        before = len(stream.sent)
        output = streamrec_job(stack_config, "upgrade", "--name", job.name, "--", "--k", "5")
        assert "upgraded" in output, output
        job.wait_flowing(stream)
        sent = stream.stop()
        got = check_delivery(job, sent)
        assert {r["model_version"] for r in got.values()} == {"1"}
        sizes_before = {len(got[e["event_id"]]["items"]) for e in sent[: before // 2]}
        answered_after = [got[e["event_id"]] for e in sent[-20:]]
        assert sizes_before == {10}
        assert {len(r["items"]) for r in answered_after} == {5}
        status = streamrec_job(stack_config, "status", "--name", job.name)
        assert "restored from: file:" in status, status


def savepoint_dir(output: str) -> Path:
    found = re.search(r"savepoint file:(\S+)", output)
    assert found, output
    return Path(found.group(1))


def test_cancel_without_savepoint_then_resume_from_the_retained_checkpoint(
    stack_config: StackConfig, package: bytes
) -> None:
    """`job cancel` names a checkpoint that resumes the job with nothing lost; savepoints
    beyond --keep-savepoints are deleted; Flink keeps at most num-retained checkpoints."""
    with operated_job(stack_config, package, parallelism=1) as job:
        stream = stream_for(job)
        first = savepoint_dir(streamrec_job(stack_config, "savepoint", "--name", job.name))
        second = savepoint_dir(
            streamrec_job(stack_config, "savepoint", "--name", job.name, "--keep-savepoints", "1")
        )
        assert (first.exists(), second.exists()) == (False, True)
        before = job.job_id()
        output = streamrec_job(stack_config, "cancel", "--name", job.name)
        print(output)
        assert f"({before}) CANCELED (it was RUNNING); no savepoint was taken" in output, output
        # A checkpoint, or the second savepoint if no checkpoint completed after it.
        found = re.search(r"newest retained (?:checkpoint|savepoint): (file:\S+)", output)
        assert found, output
        assert flink_client.job_state(stack_config, before) == "CANCELED"
        kept = list((FlinkService(stack_config).checkpoint_dir / before).glob("chk-*/_metadata"))
        assert 1 <= len(kept) <= 3, kept  # execution.checkpointing.num-retained
        record = Deployment.load(stack_config, job.name)
        assert record is not None
        streamrec_job(
            stack_config, "deploy", "--name", job.name, "--from-savepoint", found.group(1),
            "--", *record.job_args,
        )  # fmt: skip
        job.wait_serving(1, timeout_s=120)
        job.wait_flowing(stream)
        check_delivery(job, stream.stop())


def test_failover_taskmanager_killed(stack_config: StackConfig, package: bytes) -> None:
    flink = FlinkService(stack_config)
    with operated_job(stack_config, package, parallelism=1) as job:
        stream = stream_for(job)
        victim = flink.taskmanager_pid()
        assert victim is not None
        killed_at, killed_ms = time.monotonic(), now_ms()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: flink.taskmanager_pid() not in (None, victim), 60, "a new TaskManager")
        job_id = job.job_id()
        wait_for(lambda: restarted_since(stack_config, job_id, killed_ms), 180, "a recovered job")
        print(f"TaskManager kill -> job running again: {time.monotonic() - killed_at:.1f} s")
        job.wait_flowing(stream)
        check_delivery(job, stream.stop())


@pytest.mark.parametrize(
    ("service", "outage_s"),
    [("cassandra", OUTAGE_S), ("kafka", 0.0)],
    ids=["cassandra-down-30s", "kafka-broker-restart"],
)
def test_failover_server_outage(
    stack: Stack, stack_config: StackConfig, package: bytes, service: str, outage_s: float
) -> None:
    """A stack server stopped (for ``outage_s``) and started again while events flow."""
    with operated_job(stack_config, package, parallelism=1) as job:
        stream = stream_for(job)
        restarts = restart_count(stack_config, job.job_id())
        try:
            stack.down([service])
            assert stack.status([service])[0].state == "down"
            outage_ends = time.monotonic() + outage_s
            # The outage itself is the scenario: events keep coming while the server is gone.
            wait_for(lambda: time.monotonic() >= outage_ends, outage_s + 5, "the outage")
        finally:
            stack.up([service])
        back = time.monotonic()
        job.wait_flowing(stream, timeout_s=240)
        print(
            f"{service} back -> answers flowing: {time.monotonic() - back:.1f} s, "
            f"{restart_count(stack_config, job.job_id()) - restarts} job restart(s)"
        )
        check_delivery(job, stream.stop())
