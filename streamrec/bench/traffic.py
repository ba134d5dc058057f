"""Load in, answers out: a paced producer and the watchers that time every answer.

Every event is stamped with its send time (``ts``), so each latency below is measured from
the moment the event was produced (``PacedProducer``, over ``model_registry.replay``):

- ``OutputWatcher`` reads the output topic from the start and records, per event id, the
  answer's ``emitted_ts`` and when this process read it. With ``read_uncommitted`` it sees
  records as soon as they reach the broker (the count for lag); with ``read_committed`` only
  once the producing transaction commits (what a product consumer sees under exactly-once).
- ``CassandraWatcher`` polls ``recs_by_user`` for a sample of events and records when the
  row first shows that event (or a later one of the same user, which supersedes it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamrec.model_registry.replay import records_stamped_at_send, replay

Progress = Callable[[str], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class PacedProducer:
    """Sends event dicts through ``replay`` at a rate (None: as fast as possible); ``ts`` is
    stamped at send, and ``sent`` counts what was handed over so far (read by the lag
    sampler while a send runs)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.sent = 0

    def send(
        self,
        events: Sequence[dict[str, Any]],
        rate: float | None,
        on_sent: Callable[[dict[str, Any]], None] | None = None,
    ) -> float:
        """Send all events; return the achieved rate."""
        started = time.monotonic()
        # Small linger: latency runs want each event on the wire at once.
        replay(self._counted(events, on_sent), self.bootstrap, self.topic, rate, silent,
               linger_ms=1)  # fmt: skip
        return len(events) / max(time.monotonic() - started, 1e-9)

    def _counted(
        self,
        events: Sequence[dict[str, Any]],
        on_sent: Callable[[dict[str, Any]], None] | None,
    ) -> Iterator[tuple[bytes, bytes]]:
        # zip pulls the stamped record first, so ``event`` already carries its ``ts``.
        for record, event in zip(records_stamped_at_send(events), events, strict=True):
            self.sent += 1
            if on_sent is not None:
                on_sent(event)
            yield record


def silent(_line: str) -> None:
    """For the progress of the pieces the benchmark drives (replay, deploy): their own lines
    would interleave with the benchmark's."""


@dataclass
class Answer:
    event_ts: int
    emitted_ts: int
    read_ts: int
    strategy: str = "model"
    """Who answered (contracts.recommendation.STRATEGIES); a baseline's records say none."""


class OutputWatcher:
    """Reads an output topic in the background; ``answers`` maps event id -> Answer."""

    def __init__(self, bootstrap: str, topic: str, *, committed: bool) -> None:
        self.bootstrap, self.topic, self.committed = bootstrap, topic, committed
        self.answers: dict[str, Answer] = {}
        self.records = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"watch-{topic}")
        self._ready = threading.Event()
        self.error: BaseException | None = None

    def start(self, timeout_s: float = 30.0) -> OutputWatcher:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError(f"no partitions assigned on {self.topic} in {timeout_s:.0f}s")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def count(self) -> int:
        return self.records

    def wait_for(self, event_ids: Sequence[str], timeout_s: float) -> list[str]:
        """Wait until every id has an answer; return the ids still missing at the deadline."""
        deadline = time.monotonic() + timeout_s
        missing = [e for e in event_ids if e not in self.answers]
        while missing and time.monotonic() < deadline and self.error is None:
            time.sleep(0.05)
            missing = [e for e in missing if e not in self.answers]
        return missing

    def _run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"streamrec-bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed" if self.committed else "read_uncommitted",
                "fetch.wait.max.ms": 5,
                "log_level": 3,
            }
        )
        try:
            partitions = consumer.list_topics(self.topic, timeout=10).topics[self.topic].partitions
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])
            self._ready.set()
            while not self._stop.is_set():
                # poll returns as soon as one record is there; consume(timeout=0) then takes
                # whatever else is buffered without waiting for a full batch.
                first = consumer.poll(0.05)
                if first is None:
                    continue
                for message in [first, *consumer.consume(500, 0)]:
                    if message.error():
                        continue
                    read_ts = now_ms()
                    record = json.loads(message.value())
                    self.answers[record["event_id"]] = Answer(
                        record["event_ts"],
                        record["emitted_ts"],
                        read_ts,
                        record.get("strategy", "model"),
                    )
                    self.records += 1
        except BaseException as ex:  # surfaced by wait_for's callers through .error
            self.error = ex
            self._ready.set()
        finally:
            consumer.close()


@dataclass
class _Sample:
    user_id: str
    seq: int
    sent_ms: int


@dataclass
class CassandraWatcher:
    """Polls ``recs_by_user`` for sampled events; ``visible`` maps event id -> ms after send.

    Event ids are ``<prefix>-<seq>``: a row showing a later seq of the same user means the
    sampled answer was written and then superseded, so it counts as visible too.
    Resolution is the poll period plus one query (about 5-10 ms).
    """

    host: str
    port: int
    keyspace: str
    prefix: str
    poll_s: float = 0.005
    visible: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        from cassandra.cluster import Cluster

        self._cluster = Cluster([self.host], port=self.port)
        self._session = self._cluster.connect(self.keyspace)
        self._query = self._session.prepare(
            "SELECT user_id, event_id FROM recs_by_user WHERE user_id IN ?"
        )
        self._outstanding: dict[str, _Sample] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="watch-cassandra")

    def start(self) -> CassandraWatcher:
        self._thread.start()
        return self

    def sample(self, event: dict[str, Any]) -> None:
        """Watch this event (called right after it is sent); one per user at a time."""
        seq = int(event["event_id"].rsplit("-", 1)[1])
        with self._lock:
            if event["user_id"] not in self._outstanding:
                self._outstanding[event["user_id"]] = _Sample(event["user_id"], seq, event["ts"])

    def pending(self) -> int:
        with self._lock:
            return len(self._outstanding)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._cluster.shutdown()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    users = list(self._outstanding)[:100]
                if users:
                    self._check(users)
                time.sleep(self.poll_s)
        except BaseException as ex:
            self.error = ex

    def _check(self, users: list[str]) -> None:
        rows = self._session.execute(self._query, [users])
        seen = now_ms()
        with self._lock:
            for row in rows:
                prefix, _, seq = (row.event_id or "").rpartition("-")
                sample = self._outstanding.get(row.user_id)
                if sample is None or prefix != self.prefix or int(seq) < sample.seq:
                    continue
                self.visible[f"{self.prefix}-{sample.seq}"] = seen - sample.sent_ms
                del self._outstanding[row.user_id]
