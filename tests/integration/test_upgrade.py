"""A savepoint of the previous release restores into this job, with nothing lost.

The previous release (tests/integration/previous_release.py) runs on the session's Kafka,
Cassandra and MLflow with a model it trained and packaged itself. Its events are still
pending when it stops with a savepoint: its ``--max-delay-ms`` is set past the current
epoch time, so its timer rounds (``(now // tick + 1) * tick``) all end at that one instant,
after the savepoint. This job then starts from the savepoint, without
``--allowNonRestoredState``, with the models topic emptied and a model cache of its own,
and must:

- score every pending event of the old state exactly once, on Kafka and in Cassandra;
- keep each user's features: ``events_seen`` goes on counting from the old state, and the
  seen filter keeps the items engaged with before the upgrade out of the next answer;
- serve the old release's model version from broadcast state, without a new publish.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from streamrec.jobs import recommend
from streamrec.model_package.signing import load_private_key
from streamrec.model_registry.artifact_store import MlflowArtifactStore
from streamrec.model_registry.publisher import publish_package
from streamrec.ops.lifecycle import stack_job_args
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.keys import public_key_path, signing_key_path
from streamrec.stack.topics import ensure_topics
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    now_ms,
    wait_for,
)
from tests.integration.ops_harness import OperatedJob, check_delivery, wipe_topic
from tests.integration.previous_release import (
    PREVIOUS_RELEASE,
    PackageBuild,
    export_release,
    previous_release_cluster,
    submit_job,
)

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

MODEL = "upgrade-test-model"
USERS = 6
EVENTS_PER_USER = 3
# From the old job's submission to the end of its only timer round: room for its start,
# the model build and load, the events and the savepoint (85 s on a quiet 2-core machine).
# The new job's own start (~45 s) fills most of the rest, so the margin costs little.
ROUND_END_AFTER_MS = 150_000


def user_events(prefix: str, start_ms: int, round_: int, count: int) -> list[dict[str, Any]]:
    """``count`` events per user, items distinct per user and per round."""
    types = ("view", "click", "add")
    return [
        {"event_id": f"{prefix}-r{round_}-u{u}-{n}", "user_id": f"{prefix}-u{u}",
         "item_id": f"i{(u * 23 + round_ * 7 + n * 3) % 150}", "type": types[n % 3],
         "ts": start_ms + u * 10 + n}
        for n in range(count) for u in range(USERS)
    ]  # fmt: skip


def job_args(config: StackConfig, topics: JobTopics, cache: Path) -> list[str]:
    """This job's arguments, rendered as `streamrec job deploy` renders them."""
    return [
        *stack_job_args(config, topics.prefix), *topics.job_args(),
        "--model-cache-dir", str(cache), "--checkpoint-interval-ms", "1000",
    ]  # fmt: skip


def old_job_args(config: StackConfig, topics: JobTopics, cache: Path, delay_ms: int) -> list[str]:
    """The same settings in the previous release's flags, written out: its parser is
    frozen, while this release's renderer may come to write flags it never knew."""
    p = topics.prefix
    return [
        "--bootstrap", config.kafka_bootstrap, "--cassandra",
        f"127.0.0.1:{config.cassandra_port}", "--keyspace", config.keyspace,
        "--job-name", p, "--group-id", p, "--events-topic", topics.events,
        "--dlq-topic", topics.dlq, "--models-topic", topics.models,
        "--rules-topic", topics.rules, "--recommendations-topic", topics.recommendations,
        "--model-public-key", str(public_key_path(config)), "--model-cache-dir", str(cache),
        "--checkpoint-interval-ms", "1000", "--max-delay-ms", str(delay_ms),
    ]  # fmt: skip


def metric(config: StackConfig, job_id: str, name: str) -> float | None:
    return flink_client.operator_metric(config, job_id, "recommend", name)


def stop_with_savepoint(config: StackConfig, job_id: str) -> str:
    trigger = flink_client.trigger_savepoint(config, job_id, stop=True)
    return str(wait_for(lambda: flink_client.savepoint_result(config, job_id, trigger), 120,
                        "the previous release's savepoint"))  # fmt: skip


def test_savepoint_of_previous_release_restores_into_this_job(
    stack_config: StackConfig, tmp_path: Path
) -> None:
    started = time.monotonic()
    topics = JobTopics(f"upgrade_{uuid.uuid4().hex[:8]}")
    # "compact,delete" on models lets the test empty it before the upgrade (ops_harness).
    ensure_topics(stack_config.kafka_bootstrap, [
        replace(s, config={**s.config, "cleanup.policy": "compact,delete"})
        if s.name == topics.models else s
        for s in topics.specs(partitions=2)
    ])  # fmt: skip
    tree = export_release(tmp_path / "release")
    build = PackageBuild(tree, tmp_path / "old.pkg", MODEL)
    with ExitStack() as cleanup:
        cleanup.callback(build.stop)
        old = cleanup.enter_context(
            previous_release_cluster(stack_config, tree, tmp_path / "old-flink")
        )
        round_end_ms = now_ms() + ROUND_END_AFTER_MS
        old_job = submit_job(
            old, tree, old_job_args(stack_config, topics, tmp_path / "old-cache", round_end_ms)
        )
        publish_package(
            build.result(), stack_config.kafka_bootstrap, topics.models,
            store=MlflowArtifactStore(stack_config.mlflow_url),
            signing_key=load_private_key(signing_key_path(stack_config)),
        )  # fmt: skip
        wait_for(lambda: flink_client.all_tasks_running(old, old_job), 180, "old job running")
        wait_for(lambda: metric(old, old_job, "modelVersion") == 1, 180, "old job serving v1")
        before = user_events(topics.prefix, now_ms(), 0, EVENTS_PER_USER)
        EventProducer(stack_config.kafka_bootstrap, topics.events).send(before)
        wait_for(lambda: metric(old, old_job, "eventsIn") == len(before), 60, "events in state")
        # One timer per user, none fired: every event is pending in the old state.
        assert metric(old, old_job, "timersWaiting") == USERS
        assert metric(old, old_job, "recommendationsOut") == 0
        # The old operator has no scoring worker: proof the old code runs here.
        assert metric(old, old_job, "scoringWorkerRestarts") is None
        savepoint = stop_with_savepoint(old, old_job)
        assert now_ms() < round_end_ms, (
            f"the old job's round ended {ROUND_END_AFTER_MS} ms after its submission, before "
            "its savepoint: nothing was pending in it; raise ROUND_END_AFTER_MS"
        )
    old_done = time.monotonic()

    # Only broadcast state can tell the new job which model served.
    wipe_topic(stack_config, topics.models)
    new_job = flink_client.submit_python_job(
        stack_config, Path(recommend.__file__),
        job_args(stack_config, topics, tmp_path / "new-cache"), from_savepoint=savepoint,
    )  # fmt: skip
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    try:
        wait_for(lambda: flink_client.all_tasks_running(stack_config, new_job), 180,
                 "new job running")  # fmt: skip
        restored = flink_client.latest_checkpoints(stack_config, new_job)["latest"]["restored"]
        assert restored and restored["external_path"] == savepoint, restored
        wait_left_s = max(0.0, (round_end_ms - now_ms()) / 1000)
        pending = recs.wait_for_events({e["event_id"] for e in before}, wait_left_s + 120)
        after = user_events(topics.prefix, now_ms(), 1, 1)
        EventProducer(stack_config.kafka_bootstrap, topics.events).send(after)
        job = OperatedJob(stack_config, topics, recs)
        got = check_delivery(job, before + after)
    finally:
        recs.close()
        flink_client.cancel_job(stack_config, new_job)

    versions = {r["model_version"] for r in got.values()}
    assert versions == {"1"}, f"served after the upgrade: {versions}"
    assert {r["model_name"] for r in pending.values()} == {MODEL}
    engaged: dict[str, set[str]] = {}
    for event in before:
        engaged.setdefault(event["user_id"], set()).add(event["item_id"])
    for event in after:
        shown = {i["item_id"] for i in got[event["event_id"]]["items"]}
        assert not shown & engaged[event["user_id"]], (
            f"{event['user_id']} was recommended items it engaged with before the upgrade: "
            f"{shown & engaged[event['user_id']]}"
        )
    log.info(
        "upgrade from %s: old release %.0f s, new job to the last answer %.0f s",
        PREVIOUS_RELEASE, old_done - started, time.monotonic() - old_done,
    )  # fmt: skip
