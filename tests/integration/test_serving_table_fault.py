"""The serving table after a TaskManager crash: every user's row is the committed answer.

The rows that matter are the ones a replay writes a second time: answers written to
Cassandra after the last completed checkpoint, whose Kafka transaction dies with the
TaskManager. So the stream stops before the kill, inside one checkpoint interval, and
nothing written after recovery can hide what the replay left: each user's newest event was
written by the first attempt and again by the replay. With the old non-frozen ``items`` list
and event-time write times, those rows read back 2k items.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from streamrec.model_package.package import build_package
from streamrec.model_registry.train import TrainResult
from streamrec.ops.lifecycle import restarted_since
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.services.flink import FlinkService
from tests.integration.job_harness import now_ms, wait_for
from tests.integration.ops_harness import EventStream, OperatedJob, check_delivery, operated_job

pytestmark = pytest.mark.integration

K = 10
RATE = 40.0  # events/s over USERS users: each user sends twice a second
USERS = 20
CHECKPOINT_MS = 5_000  # long enough to stop the stream and kill inside one interval


@pytest.fixture(scope="module")
def package(small_training: TrainResult) -> bytes:
    result = small_training
    return build_package(result.artifacts, "fault-test-model", "1", result.metrics, created_ms=1)


def rows(job: OperatedJob) -> dict[str, Any]:
    with connect("127.0.0.1", job.config.cassandra_port, job.config.keyspace) as session:
        found = {}
        for user in job.users:
            found[user] = session.execute(
                "SELECT event_id, model_version, ranked, writetime(event_id) AS written "
                "FROM recs_by_user WHERE user_id = %s",
                (user,),
            ).one()
        return found


def completed_checkpoint(job: OperatedJob, job_id: str) -> int:
    latest = flink_client.latest_checkpoints(job.config, job_id).get("latest") or {}
    return int((latest.get("completed") or {}).get("id", 0))


def test_taskmanager_kill_leaves_every_row_equal_to_its_committed_answer(
    stack_config: StackConfig, package: bytes
) -> None:
    flink = FlinkService(stack_config)
    job_args = ["--k", str(K), "--checkpoint-interval-ms", str(CHECKPOINT_MS)]
    with operated_job(stack_config, package, parallelism=1, job_args=job_args, users=USERS) as job:
        stream = EventStream(job.config, job.topics.events, job.users, RATE).start()
        job.wait_flowing(stream)
        job_id = job.job_id()
        # Right after a checkpoint, every user sends again; those answers are uncommitted.
        before = completed_checkpoint(job, job_id)
        wait_for(lambda: completed_checkpoint(job, job_id) > before, 30, "a checkpoint")
        covered = completed_checkpoint(job, job_id)
        time.sleep(1.0)
        sent = stream.stop()
        last = {e["user_id"]: e["event_id"] for e in sent}
        # The first attempt has written each user's newest answer...
        wait_for(
            lambda: {u: r.event_id for u, r in rows(job).items() if r is not None} == last,
            30,
            "Cassandra rows of every user's last event",
        )
        victim = flink.taskmanager_pid()
        assert victim is not None
        killed_ms = now_ms()
        os.kill(victim, signal.SIGKILL)
        # ...and no checkpoint covers it, so the replay writes it again.
        assert completed_checkpoint(job, job_id) == covered, "a checkpoint beat the kill"
        wait_for(lambda: flink.taskmanager_pid() not in (None, victim), 60, "a new TaskManager")
        wait_for(lambda: restarted_since(stack_config, job_id, killed_ms), 180, "recovery")

        got = check_delivery(job, sent)  # one answer per event, state intact, rows current
        after = rows(job)
        for user in job.users:
            row = after[user]
            answer = got[row.event_id]
            assert row.event_id == last[user]
            assert len(row.ranked) == K, f"{user}: {len(row.ranked)} items, not {K}"
            assert [(i.item_id, round(i.score, 6)) for i in row.ranked] == [
                (i["item_id"], i["score"]) for i in answer["items"]
            ], f"{user}: row differs from the committed answer to {row.event_id}"
            assert row.model_version == answer["model_version"]
        replayed = [u for u, r in after.items() if r.written >= killed_ms * 1000]
        print(f"rows written again by the replay: {len(replayed)} of {len(after)}")
        assert len(replayed) == len(after)
