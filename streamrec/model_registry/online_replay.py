"""The Kafka side of the online check (``online_check``): wait until the job serves the
published version, replay the past onto the events topic, collect the job's answers.

The answers are read from the end the recommendations topic had before anything was
sent (read_committed, as any downstream reader), so earlier traffic never counts.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streamrec.contracts.event import Event
from streamrec.model_package.package import LoadedModel
from streamrec.model_registry import online_check
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.replay import records_from_events, replay

PROBE_WAIT_S = 3.0
"""How long one probe waits for its answer before the next probe is sent."""
REPORT_EVERY_S = 10.0


class AnswerTap:
    """The job's answers to events whose id starts with ``run``.

    Of the replayed events (``replayed``) it keeps who answered each and the whole answer
    only for ``scored`` ones (a whole log's answers would take gigabytes); every other
    answer of the run (the probes) is kept whole.
    """

    def __init__(
        self, bootstrap: str, topic: str, run: str, replayed: set[str], scored: set[str]
    ) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.run, self.replayed, self.scored = run, replayed, scored
        self.answers: dict[str, dict[str, Any]] = {}
        self.answered_by: dict[str, str] = {}
        """Replayed event id -> ``online_check.answerer`` of its answer."""
        self.duplicates = 0
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"online-check-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        info = self._consumer.list_topics(topic, timeout=30).topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            self._consumer.close()
            raise DataError(f"topic {topic!r} is not available on {bootstrap}")
        starts = []
        for partition in info.partitions:
            _, end = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=30
            )
            starts.append(TopicPartition(topic, partition, end))
        self._consumer.assign(starts)

    def poll(self, seconds: float) -> int:
        """Read for ``seconds``; returns how many replayed events got their first answer."""
        fresh = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = self._consumer.poll(0.1)
            if message is None or message.error():
                continue
            answer = json.loads(message.value())
            event_id = answer.get("event_id", "")
            if not event_id.startswith(self.run):
                continue
            if event_id in self.replayed:
                if event_id in self.answered_by:
                    self.duplicates += 1
                else:
                    fresh += 1
                self.answered_by[event_id] = online_check.answerer(answer)
            if event_id in self.scored or event_id not in self.replayed:
                self.answers[event_id] = answer
        return fresh

    def collect(self, stall_s: float, progress: Callable[[str], None]) -> set[str]:
        """Read until every replayed event has its answer, or nothing new came for
        ``stall_s``; returns the ids still unanswered."""
        missing = self.replayed - self.answered_by.keys()
        quiet_since = reported = time.monotonic()
        while missing and time.monotonic() - quiet_since < stall_s:
            if self.poll(1.0):
                quiet_since = time.monotonic()
            missing -= self.answered_by.keys()
            if time.monotonic() - reported >= REPORT_EVERY_S:
                progress(f"{len(self.answered_by)} of {len(self.replayed)} events answered")
                reported = time.monotonic()
        return missing

    def close(self) -> None:
        self._consumer.close()


@dataclass(frozen=True)
class CheckTopics:
    bootstrap: str
    events: str = "events"
    recommendations: str = "recommendations"


def wait_until_serving(
    tap: AnswerTap,
    send: Callable[[Sequence[Event]], object],
    version: str,
    item_id: str,
    timeout_s: float,
) -> None:
    """Probe (one event of a user of its own) until an answer names ``version``: the
    job folds categories from the model it serves, so the replay must not start before."""
    deadline = time.monotonic() + timeout_s
    n = 0
    while time.monotonic() < deadline:
        probe = Event(f"{tap.run}-probe-{n}", f"{tap.run}-probe", item_id, "view",
                      int(time.time() * 1000))  # fmt: skip
        n += 1
        send([probe])
        waited = time.monotonic()
        while probe.event_id not in tap.answers and time.monotonic() - waited < PROBE_WAIT_S:
            tap.poll(0.2)
        answer = tap.answers.get(probe.event_id)
        if answer is not None and answer["model_version"] == version:
            return
    raise DataError(f"version {version} was not serving after {timeout_s:.0f} s")


def run_check(
    model: LoadedModel,
    check: online_check.CheckCase,
    topics: CheckTopics,
    publish: Callable[[], object],
    *,
    half_life_ms: int,
    rate_per_s: float | None = None,
    serving_timeout_s: float = 180.0,
    stall_s: float = 60.0,
    progress: Callable[[str], None] = print,
) -> online_check.CheckReport:
    """Publish (``publish`` puts ``model``'s package on the job's models topic), wait for
    it to serve, replay ``check.past`` and compare the job's answers with offline."""
    run = f"oc{uuid.uuid4().hex[:8]}"
    replayed = {online_check.online_id(run, e.event_id) for e in check.past}
    scored = {online_check.online_id(run, e) for e in check.last_event.values()}
    tap = AnswerTap(topics.bootstrap, topics.recommendations, run, replayed, scored)

    def send(events: Sequence[Event]) -> None:
        replay(records_from_events(events), topics.bootstrap, topics.events, rate_per_s,
               progress=lambda _: None, linger_ms=5)  # fmt: skip

    try:
        publish()
        wait_until_serving(tap, send, model.version, model.item_ids[0], serving_timeout_s)
        progress(f"version {model.version} serving; replaying {len(check.past)} events")
        copies = online_check.replay_copies(check.past, run, int(time.time() * 1000))
        replay(records_from_events(copies), topics.bootstrap, topics.events, rate_per_s,
               progress, linger_ms=20)  # fmt: skip
        missing = tap.collect(stall_s, progress)
        if missing:
            progress(f"{len(missing)} of {len(replayed)} replayed events got no answer")
        if tap.duplicates:
            progress(f"{tap.duplicates} answers arrived twice (the last one is used)")
    finally:
        tap.close()
    answers = {e: a for e, a in tap.answers.items() if e in scored}
    mismatches = online_check.feature_mismatches(model, check, copies, run, half_life_ms)
    return online_check.compare_online(
        model, check, answers, run, Counter(tap.answered_by.values()), mismatches
    )
