"""Operate the job through ``streamrec job`` while events flow, then check nothing was lost.

:class:`EventStream` produces events at a steady rate from a background thread (idempotent
producer: a broker restart must not duplicate input), and :func:`check_delivery` checks the
whole run afterwards: one recommendation per event on ``recommendations`` (read_committed),
each user's ``events_seen`` counting 1, 2, 3... in send order (so user state was neither lost
nor double-counted), and Cassandra holding each user's latest answer.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from streamrec.cli.main import cli
from streamrec.model_registry.publisher import publish_to_stack
from streamrec.ops.lifecycle import active_jobs
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.topics import ensure_topics
from tests.integration.job_harness import JobTopics, RecommendationReader, now_ms, wait_for


def streamrec_job(config: StackConfig, *args: str) -> str:
    """Run ``streamrec job ARGS`` against the test stack; its output, or fail showing it."""
    command, *rest = args
    result = CliRunner().invoke(cli, ["job", command, "--data-dir", str(config.data_dir), *rest])
    assert result.exit_code == 0, f"streamrec job {' '.join(args)} failed:\n{result.output}"
    return result.output


class EventStream:
    """Valid events for ``users`` at ``rate`` per second until :meth:`stop`."""

    def __init__(self, config: StackConfig, topic: str, users: list[str], rate: float) -> None:
        self.topic = topic
        self.users = users
        self.rate = rate
        self.sent: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._producer = Producer(
            {
                "bootstrap.servers": config.kafka_bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                # A broker restart or a stalled job may hold messages back for a while.
                "message.timeout.ms": 300_000,
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._prefix = uuid.uuid4().hex[:6]

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))

    def _run(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            user = self.users[n % len(self.users)]
            event = {
                "event_id": f"{self._prefix}-{n}", "user_id": user,
                "item_id": f"i{(n * 7) % 50}", "type": "click" if n % 5 == 0 else "view",
                "ts": now_ms(),
            }  # fmt: skip
            self._producer.produce(
                self.topic, key=user, value=_json(event), timestamp=event["ts"],
                on_delivery=self._on_delivery,
            )  # fmt: skip
            self.sent.append(event)
            n += 1
            self._producer.poll(0)
            next_at += 1.0 / self.rate
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> EventStream:
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join()
        remaining = self._producer.flush(300)
        assert remaining == 0 and not self.errors, (
            f"the test's producer lost events: {remaining} unsent, errors {self.errors[:3]}"
        )
        return self.sent


def _json(event: dict[str, Any]) -> str:
    return json.dumps(event)


@dataclass
class OperatedJob:
    """A job deployed through ``streamrec job deploy`` on topics of its own."""

    config: StackConfig
    topics: JobTopics
    recs: RecommendationReader
    users: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.topics.prefix

    def job_id(self) -> str:
        jobs = active_jobs(self.config, self.name)
        assert len(jobs) == 1, f"expected one active job {self.name}, found {jobs}"
        return str(jobs[0]["jid"])

    def model_everywhere(self, version: int) -> bool:
        """Every subtask of ``recommend`` serves ``version`` (its lowest gauge does)."""
        lowest = flink_client.operator_metric(
            self.config, self.job_id(), "recommend", "modelVersion", agg="min"
        )
        return lowest == version

    def wait_serving(self, version: int = 1, timeout_s: float = 180) -> None:
        wait_for(lambda: self.model_everywhere(version), timeout_s, f"model {version} serving")

    def wait_flowing(self, stream: EventStream, timeout_s: float = 120) -> None:
        """Until the job has answered an event sent after this call."""
        marker = len(stream.sent)
        wait_for(lambda: len(stream.sent) > marker, 10, "the stream to send")
        event_id = stream.sent[marker]["event_id"]
        self.recs.until(
            lambda _: event_id in self.recs.by_event(), timeout_s, f"an answer to {event_id}"
        )


@contextmanager
def operated_job(
    config: StackConfig,
    package: bytes,
    *,
    parallelism: int,
    job_args: list[str] = (),
    users: int = 40,
) -> Iterator[OperatedJob]:
    """Publish ``package`` onto fresh topics, deploy the job on them, and clean up after."""
    topics = JobTopics(f"ops_{uuid.uuid4().hex[:8]}")
    # "compact,delete" on models lets a test delete its records (Kafka refuses that on a
    # compact-only topic), to prove a restored job needs none of them.
    specs = [
        replace(s, config={**s.config, "cleanup.policy": "compact,delete"})
        if s.name == topics.models else s
        for s in topics.specs(partitions=4)
    ]  # fmt: skip
    ensure_topics(config.kafka_bootstrap, specs)
    publish_to_stack(package, config, topics.models)
    streamrec_job(
        config, "deploy", "--name", topics.prefix, "--parallelism", str(parallelism), "--",
        *topics.job_args(), "--checkpoint-interval-ms", "1000", *job_args,
    )  # fmt: skip
    recs = RecommendationReader(config.kafka_bootstrap, topics.recommendations)
    job = OperatedJob(config, topics, recs, [f"{topics.prefix}-u{n}" for n in range(users)])
    try:
        job.wait_serving(1)
        yield job
    finally:
        recs.close()
        for entry in active_jobs(config, topics.prefix):
            flink_client.cancel_job(config, entry["jid"])


def check_delivery(job: OperatedJob, sent: list[dict[str, Any]], timeout_s: float = 180) -> dict:
    """Exactly one recommendation per sent event, state counts intact, Cassandra current.

    Returns the recommendations by event id.
    """
    got = job.recs.wait_for_events({e["event_id"] for e in sent}, timeout_s)
    position: dict[str, int] = {}
    wrong_counts = []
    for event in sent:
        position[event["user_id"]] = position.get(event["user_id"], 0) + 1
        seen = got[event["event_id"]]["events_seen"]
        if seen != position[event["user_id"]]:
            wrong_counts.append((event["event_id"], position[event["user_id"]], seen))
    assert not wrong_counts, (
        f"{len(wrong_counts)} recommendations saw user state of the wrong size "
        f"(event, expected events_seen, got): {wrong_counts[:5]}"
    )
    latest = {e["user_id"]: e["event_id"] for e in sent}
    with connect("127.0.0.1", job.config.cassandra_port, job.config.keyspace) as session:
        for user, event_id in latest.items():
            row = session.execute(
                "SELECT event_id, ranked AS items FROM recs_by_user WHERE user_id = %s", (user,)
            ).one()
            assert row is not None, f"no recs_by_user row for {user}"
            assert row.event_id == event_id, f"{user}: Cassandra has {row.event_id}, not {event_id}"
            expected = [i["item_id"] for i in got[event_id]["items"]]
            assert [i.item_id for i in row.items] == expected, f"{user}: items differ from Kafka"
    return got


def wipe_topic(config: StackConfig, topic: str) -> None:
    """Delete every record of ``topic``, up to its current end."""
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    consumer = Consumer({"bootstrap.servers": config.kafka_bootstrap, "group.id": "wipe"})
    try:
        ends = [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p))[1])
            for p in partitions
        ]
    finally:
        consumer.close()
    for future in admin.delete_records(ends).values():
        future.result(timeout=30)
