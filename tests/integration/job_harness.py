"""Run the streamrec job against its own topics on the test stack, and read what it wrote."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from streamrec.jobs import recommend
from streamrec.ops.lifecycle import stack_job_args
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.topics import TopicSpec, ensure_topics, job_topic_args, stack_topics
from tests.polling import wait_for


@dataclass
class JobTopics:
    prefix: str

    @property
    def events(self) -> str:
        return f"{self.prefix}_events"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}_events.dlq"

    @property
    def models(self) -> str:
        return f"{self.prefix}_models"

    @property
    def rules(self) -> str:
        return f"{self.prefix}_rules"

    @property
    def recommendations(self) -> str:
        return f"{self.prefix}_recommendations"

    @property
    def trending(self) -> str:
        return f"{self.prefix}_trending"

    @property
    def feedback(self) -> str:
        return f"{self.prefix}_feedback"

    def specs(self, partitions: int) -> list[TopicSpec]:
        return stack_topics(partitions, prefix=f"{self.prefix}_")

    def job_args(self) -> list[str]:
        return job_topic_args(prefix=f"{self.prefix}_")


def submit_job(
    config: StackConfig, topics: JobTopics, extra_args: list[str] = (), parallelism: int = 1
) -> str:
    ensure_topics(config.kafka_bootstrap, topics.specs(partitions=2))
    args = [
        *stack_job_args(config, topics.prefix),
        *topics.job_args(),
        "--checkpoint-interval-ms", "1000",
        # Tests compare answers with offline scoring, which has no trending; the trending
        # test turns cold start on.
        "--cold-start-events", "0",
        "--trending-candidates", "0",
        "--trending-slots", "0",
        *extra_args,  # last wins in argparse, so these override the defaults above
    ]  # fmt: skip
    job_id = flink_client.submit_python_job(
        config, Path(recommend.__file__), args, parallelism=parallelism
    )
    wait_for(lambda: flink_client.all_tasks_running(config, job_id), 180, f"job {job_id} running")
    return job_id


@dataclass
class TopicReader:
    """A read_committed consumer that keeps everything it has read, across calls."""

    bootstrap: str
    topic: str
    records: list[tuple[bytes | None, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        self._consumer.subscribe([self.topic])

    def drain(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is not None and not message.error():
                self.records.append((message.key(), message.value()))

    def until(self, condition: Callable[[list[tuple[bytes | None, bytes]]], bool],
              timeout_s: float, what: str) -> None:  # fmt: skip
        def check() -> bool:
            self.drain(0.3)
            return condition(self.records)

        wait_for(check, timeout_s, what)

    def close(self) -> None:
        self._consumer.close()


class RecommendationReader(TopicReader):
    def by_event(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for key, value in self.records:
            rec = json.loads(value)
            assert key is not None and key.decode() == rec["user_id"], "key must be user_id"
            out.setdefault(rec["event_id"], []).append(rec)
        return out

    def wait_for_events(self, event_ids: set[str], timeout_s: float = 90) -> dict[str, dict]:
        """Each event's single recommendation; fails on a missing or duplicated one."""
        self.until(
            lambda _: event_ids <= set(self.by_event()),
            timeout_s,
            f"recommendations for {len(event_ids)} events",
        )
        self.drain(1.0)  # let any duplicate show up before judging
        found = self.by_event()
        dupes = {e: len(found[e]) for e in event_ids if len(found[e]) != 1}
        assert not dupes, f"events with more than one recommendation: {dupes}"
        return {e: found[e][0] for e in event_ids}


class EventProducer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})

    def send(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self._producer.produce(
                self.topic, key=event["user_id"], value=json.dumps(event), timestamp=event["ts"]
            )
        self._producer.flush(30)

    def send_raw(self, values: list[bytes]) -> None:
        for value in values:
            self._producer.produce(self.topic, value=value)
        self._producer.flush(30)


def now_ms() -> int:
    return int(time.time() * 1000)


def retimed(events: Iterator[Any], prefix: str, start_ms: int) -> list[dict[str, Any]]:
    """Generated events moved to now, with ids and users unique to this test."""
    out = []
    for n, event in enumerate(events):
        d = event.to_dict()
        d.pop("context", None)
        d["event_id"] = f"{prefix}-{n}"
        d["user_id"] = f"{prefix}-{d['user_id']}"
        d["ts"] = start_ms + n
        out.append(d)
    return out
