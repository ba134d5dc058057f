"""Simulated users in a closed loop with the running job, over Kafka.

Each user sends an event, waits for the job's recommendation for it (matched by event id
on the recommendations topic), and responds as its click model says: one ``impression``
for the list it was shown (item = the list's first, ``context.rec_id`` = the
recommendation's id), then a ``click`` on the item it chose, with the same ``rec_id``, and
sometimes a ``purchase``. The click is also the user's next engagement, so the job answers
it and the loop goes on; a user who clicked nothing browses to an item of its own choosing
after ``think_ms``. The job's feedback join counts the impressions and clicks per model
version (jobs.feedback_sql); the loop keeps its own counts per (model version, strategy)
to check them against.

One thread, a producer and a read_committed consumer: the loop runs at whatever pace the
job answers (``users`` in flight at once), which is the point of closing it.
"""

from __future__ import annotations

import heapq
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamrec.simulation.click_model import ClickModel
from streamrec.simulation.ctr import Rate

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class LoopSettings:
    shown: int = 10
    """Items of a list the user reads (the job's lists are longer)."""
    think_ms: int = 500
    """Pause before a user who clicked nothing browses on."""
    warmup_events: int = 5
    """Events each user sends on its own first, so the job has a history to work from."""
    answer_timeout_ms: int = 60_000
    """An event unanswered this long is given up (counted) and the user browses on."""


@dataclass
class Tally:
    rates: dict[tuple[str, str], Rate] = field(default_factory=dict)
    """(model version, strategy) -> lists shown, lists clicked."""
    purchases: int = 0
    unanswered: int = 0
    events_sent: int = 0

    def add(self, version: str, strategy: str, clicked: bool) -> None:
        rate = self.rates.setdefault((version, strategy), Rate())
        rate.shown += 1
        rate.clicked += int(clicked)

    def by_version(self) -> dict[str, Rate]:
        out: dict[str, Rate] = {}
        for (version, _), rate in self.rates.items():
            total = out.setdefault(version, Rate())
            total.shown += rate.shown
            total.clicked += rate.clicked
        return out


class ClosedLoop:
    def __init__(
        self,
        bootstrap: str,
        events_topic: str,
        recommendations_topic: str,
        users: ClickModel,
        settings: LoopSettings | None = None,
        run_id: str | None = None,
    ) -> None:
        from confluent_kafka import Consumer, Producer

        self.users, self.settings = users, settings or LoopSettings()
        self.events_topic = events_topic
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.tally = Tally()
        self._producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"closed-loop-{self.run_id}",
            "auto.offset.reset": "latest",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        })  # fmt: skip
        self._consumer.subscribe([recommendations_topic])
        self._awaiting: dict[str, tuple[int, int]] = {}
        """event id -> (user, sent ms): events whose answer the user waits for."""
        self._due: list[tuple[int, int]] = []
        """(ms, user): users who browse on at that time."""
        self._seq = 0
        self._started = False

    def close(self) -> None:
        self._producer.flush(10)
        self._consumer.close()

    def run(
        self, seconds: float, on_answer: Callable[[dict[str, Any]], None] | None = None
    ) -> Tally:
        """Run the loop for ``seconds`` (users keep their place between calls)."""
        if not self._started:
            self._start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._browse_due()
            for message in self._consumer.consume(500, 0.1):
                if message.error() is None:
                    record = json.loads(message.value())
                    waiting = self._awaiting.pop(record.get("event_id"), None)
                    if waiting is not None:
                        if on_answer is not None:
                            on_answer(record)
                        self._respond(waiting[0], record)
            self._expire()
            self._producer.poll(0)
        self._producer.flush(10)
        return self.tally

    def _start(self) -> None:
        # Wait for the partition assignment, so no answer to our first events is missed.
        deadline = time.monotonic() + 30
        while not self._consumer.assignment() and time.monotonic() < deadline:
            self._consumer.poll(0.1)
        for user in range(self.users.n_users):
            for _ in range(self.settings.warmup_events):
                self._send(user, "view", self.users.browse_next(user))
            self._ask(user, self.users.browse_next(user))
        self._started = True

    def _respond(self, user: int, record: dict[str, Any]) -> None:
        shown = [i["item_id"] for i in record.get("items", [])][: self.settings.shown]
        if not shown:
            self._later(user)
            return
        rec_id = record["event_id"]
        self._send(user, "impression", shown[0], rec_id=rec_id)
        response = self.users.respond(user, shown)
        self.tally.add(record.get("model_version", "?"), record.get("strategy", "?"),
                       response.clicked is not None)  # fmt: skip
        if response.item_id is None:
            self._later(user)
            return
        self._ask(user, response.item_id, "click", rec_id)
        if response.purchased:
            self.tally.purchases += 1
            self._send(user, "purchase", response.item_id, rec_id=rec_id)

    def _ask(
        self, user: int, item_id: str, event_type: str = "view", rec_id: str | None = None
    ) -> None:
        event_id = self._send(user, event_type, item_id, rec_id=rec_id)
        self._awaiting[event_id] = (user, now_ms())

    def _later(self, user: int) -> None:
        heapq.heappush(self._due, (now_ms() + self.settings.think_ms, user))

    def _browse_due(self) -> None:
        now = now_ms()
        while self._due and self._due[0][0] <= now:
            _, user = heapq.heappop(self._due)
            self._ask(user, self.users.browse_next(user))

    def _expire(self) -> None:
        cutoff = now_ms() - self.settings.answer_timeout_ms
        for event_id, (user, sent) in list(self._awaiting.items()):
            if sent < cutoff:
                del self._awaiting[event_id]
                self.tally.unanswered += 1
                self._later(user)

    def _send(self, user: int, event_type: str, item_id: str, rec_id: str | None = None) -> str:
        self._seq += 1
        event_id = f"loop-{self.run_id}-{self._seq}"
        event: dict[str, Any] = {
            "event_id": event_id,
            "user_id": f"loop-{self.run_id}-u{user}",
            "item_id": item_id,
            "type": event_type,
            "ts": now_ms(),
        }
        if rec_id is not None:
            event["context"] = {"rec_id": rec_id}
        key = event["user_id"].encode()
        self._producer.produce(self.events_topic, key=key, value=json.dumps(event).encode())
        self.tally.events_sent += 1
        return event_id
