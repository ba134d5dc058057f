"""One system, measured: capacity, maximum sustainable rate, then latency at fractions of it.

1. **Probe**: a small burst, all answered. It warms the system and gives a rough rate.
2. **Capacity**: a backlog of about ``drain_s`` seconds of work produced at once; the drain
   rate (middle 70% of the answers by ``emitted_ts``) is the system's capacity.
3. **Maximum sustainable rate**: paced input at 90% of capacity for ``sustain_s`` seconds,
   the lag (sent - answered, read_uncommitted) sampled every 0.25 s. If the lag grows by
   3% of the input or more, or over a second of input is left at the end, try 80% of that
   rate, up to ``max_tries`` times.
4. **Latency** at 25/50/75% of the maximum sustainable rate: emitted - produced, delivered
   to Kafka (read_uncommitted) - produced, readable (read_committed) - produced, and for
   the job visible in Cassandra - produced on a sample of events.

Every phase records the machine's load average as it starts and ends (``loadavg`` in the
result, and on the phase's progress lines).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from streamrec.bench.catalog import Catalog
from streamrec.bench.load import PhaseLoads
from streamrec.bench.measure import burst_rate, lag_growth, percentiles, sustainable
from streamrec.bench.traffic import (
    Answer,
    CassandraWatcher,
    OutputWatcher,
    PacedProducer,
    Progress,
)
from streamrec.stack.config import StackConfig

FRACTIONS = (0.25, 0.5, 0.75)


class System(Protocol):
    label: str
    in_topic: str
    out_topic: str
    writes_cassandra: bool
    transactional: bool

    def start(self, progress: Progress) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Plan:
    probe_events: int = 1000
    drain_s: float = 20.0
    sustain_s: float = 20.0
    latency_s: float = 15.0
    max_tries: int = 4
    fractions: tuple[float, ...] = FRACTIONS
    answer_timeout_s: float = 300.0
    cassandra_samples_per_s: int = 100


class Measurement:
    """Runs the plan against one started system and returns a JSON-ready dict."""

    def __init__(
        self,
        config: StackConfig,
        system: System,
        catalog: Catalog,
        plan: Plan,
        progress: Progress,
    ) -> None:
        self.config, self.system, self.catalog, self.plan = config, system, catalog, plan
        self.say = lambda line: progress(f"{system.label}: {line}")
        self.run_id = uuid.uuid4().hex[:6]
        self.loads = PhaseLoads()
        self.offset = 0
        self.producer = PacedProducer(config.kafka_bootstrap, system.in_topic)
        self.delivered = OutputWatcher(config.kafka_bootstrap, system.out_topic, committed=False)
        # A second reader only where it differs: transactional output.
        self.readable = (
            OutputWatcher(config.kafka_bootstrap, system.out_topic, committed=True)
            if system.transactional
            else self.delivered
        )

    def run(self) -> dict[str, Any]:
        with self._watching():
            return self._run()

    def _run(self) -> dict[str, Any]:
        plan = self.plan
        capacity = self._capacity()
        rate, tries = 0.9 * capacity, []
        for _ in range(plan.max_tries):
            attempt = self._sustain(rate)
            tries.append(attempt)
            if attempt["sustainable"]:
                break
            rate *= 0.8
        max_rate = round(rate, 1)
        sustained = tries[-1]["sustainable"]
        self.say(f"maximum sustainable rate {max_rate:.0f}/s" + ("" if sustained else " (NOT)"))
        points = [self._latency(fraction, fraction * max_rate) for fraction in plan.fractions]
        return {
            "system": self.system.label,
            "capacity": round(capacity, 1),
            "max_sustainable_rate": max_rate,
            "sustained": sustained,
            "sustain_tries": tries,
            "latency": points,
            "loadavg": self.loads.records,
        }

    def capacity_and_latency(self, rate: float) -> dict[str, Any]:
        """The knob sweep's shorter plan: capacity, then latency at one fixed rate (the
        same for every setting, so their latencies compare)."""
        with self._watching():
            capacity = self._capacity()
            point = self._latency(round(rate / capacity, 3), rate)
        return {"capacity": round(capacity, 1), "latency": point, "loadavg": self.loads.records}

    @contextlib.contextmanager
    def _watching(self) -> Iterator[None]:
        watchers = {id(w): w for w in (self.delivered, self.readable)}.values()
        for watcher in watchers:
            watcher.start()
        try:
            yield
        finally:
            for watcher in watchers:
                watcher.stop()

    def _capacity(self) -> float:
        probe = self._burst("probe", self.plan.probe_events)
        backlog = int(min(max(probe * self.plan.drain_s, 2000), 400_000))
        return self._burst("capacity", backlog)

    def _events(self, count: int, phase: str) -> list[dict[str, Any]]:
        events = self.catalog.events(count, f"{self.run_id}{phase}", self.offset)
        self.offset += count
        return events

    def _await(self, watcher: OutputWatcher, events: list[dict[str, Any]], what: str) -> None:
        missing = watcher.wait_for([e["event_id"] for e in events], self.plan.answer_timeout_s)
        if watcher.error is not None:
            raise RuntimeError(f"{self.system.label}: reading answers failed: {watcher.error}")
        if missing:
            raise RuntimeError(
                f"{self.system.label}: {len(missing)} of {len(events)} {what} events got no "
                f"answer within {self.plan.answer_timeout_s:.0f}s (first: {missing[0]})"
            )

    def _burst(self, phase: str, count: int) -> float:
        self.say(f"{phase}: {count} events at once ({self.loads.start(phase)})")
        events = self._events(count, phase)
        sent_ms = time.time() * 1000
        self.producer.send(events, None)
        self._await(self.delivered, events, phase)
        emitted = [self.delivered.answers[e["event_id"]].emitted_ts for e in events]
        rate = burst_rate(emitted, sent_ms)
        self.say(f"{phase}: drained at {rate:.0f}/s ({self.loads.end(phase)})")
        return rate

    def _sustain(self, rate: float) -> dict[str, Any]:
        plan = self.plan
        count = max(int(rate * plan.sustain_s), 100)
        events = self._events(count, f"s{int(rate)}")
        phase = f"sustain {rate:.0f}/s"
        self.say(f"sustain: {count} events at {rate:.0f}/s ({self.loads.start(phase)})")
        base = self.delivered.count()
        samples: list[tuple[float, int]] = []
        started = time.monotonic()
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.25):
                lag = self.producer.sent - sent_before - (self.delivered.count() - base)
                samples.append((time.monotonic() - started, lag))

        sent_before = self.producer.sent
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        achieved = self.producer.send(events, rate)
        stop.set()
        sampler.join()
        final_lag = count - (self.delivered.count() - base)
        growth = lag_growth(samples, rate)
        ok = sustainable(growth, final_lag, rate)
        self.say(
            f"sustain: {rate:.0f}/s (sent at {achieved:.0f}/s), lag growth "
            f"{growth * 100:.1f}% of input, {final_lag} behind at the end: "
            + ("keeps up" if ok else "falls behind")
        )
        self._await(self.delivered, events, "sustain")
        self.say(f"sustain: all answered ({self.loads.end(phase)})")
        return {
            "rate": round(rate, 1),
            "achieved_rate": round(achieved, 1),
            "lag_growth": round(growth, 4),
            "final_lag": final_lag,
            "sustainable": ok,
        }

    def _latency(self, fraction: float, rate: float) -> dict[str, Any]:
        plan = self.plan
        count = max(int(rate * plan.latency_s), 50)
        phase = f"l{int(fraction * 100)}"
        events = with_new_users(self._events(count, phase), NEW_USER_EVERY)
        name = f"latency at {fraction:.0%}"
        self.say(f"{name}: {count} events at {rate:.0f}/s ({self.loads.start(name)})")
        cassandra = None
        if self.system.writes_cassandra:
            host, port = "127.0.0.1", self.config.cassandra_port
            cassandra = CassandraWatcher(host, port, self.config.keyspace, f"{self.run_id}{phase}")
            cassandra.start()
        every = max(1, int(rate // plan.cassandra_samples_per_s))

        def sample_some(event: dict[str, Any]) -> None:
            seq = int(event["event_id"].rsplit("-", 1)[1])
            # Every new user's event too: their answers are the cold-start latency.
            if cassandra is not None and (seq % every == 0 or is_new_user(event)):
                cassandra.sample(event)

        try:
            achieved = self.producer.send(events, rate, on_sent=sample_some)
            self._await(self.delivered, events, phase)
            self._await(self.readable, events, phase)
            if cassandra is not None:
                _drain_cassandra(cassandra, plan.answer_timeout_s)
        finally:
            if cassandra is not None:
                cassandra.stop()
        sent = {e["event_id"]: e["ts"] for e in events}
        delivered = [self.delivered.answers[i] for i in sent]
        readable = [self.readable.answers[i] for i in sent]
        point: dict[str, Any] = {
            "fraction": fraction,
            "rate": round(rate, 1),
            "achieved_rate": round(achieved, 1),
            "events": count,
            "emitted_ms": percentiles([a.emitted_ts - a.event_ts for a in delivered]),
            "delivered_ms": percentiles([a.read_ts - a.event_ts for a in delivered]),
            "readable_ms": percentiles([a.read_ts - a.event_ts for a in readable]),
        }
        if cassandra is not None:
            point["cassandra_ms"] = percentiles(list(cassandra.visible.values()))
            point["cassandra_samples"] = len(cassandra.visible)
        point["by_strategy"] = by_strategy(
            readable, cassandra.visible if cassandra is not None else {}, self.readable.answers
        )
        self.say(f"{name}: {_brief(point)} ({self.loads.end(name)})")
        return point


NEW_USER_EVERY = 20
"""One latency event in 20 comes from a user the job has never seen (a cold start)."""


def with_new_users(events: list[dict[str, Any]], every: int) -> list[dict[str, Any]]:
    """``events`` with every ``every``-th event's user replaced by a brand-new one."""
    for n, event in enumerate(events):
        if n % every == every // 2:
            event["user_id"] = f"new-{event['event_id']}"
    return events


def is_new_user(event: dict[str, Any]) -> bool:
    return str(event["user_id"]).startswith("new-")


def by_strategy(
    answers: list[Answer], visible: dict[str, int], by_id: dict[str, Answer]
) -> dict[str, dict[str, Any]]:
    """Latency percentiles per answering strategy (event -> readable, event -> Cassandra)."""
    out: dict[str, dict[str, Any]] = {}
    for strategy in sorted({a.strategy for a in answers}):
        mine = [a for a in answers if a.strategy == strategy]
        stored = [ms for event_id, ms in visible.items()
                  if event_id in by_id and by_id[event_id].strategy == strategy]  # fmt: skip
        out[strategy] = {
            "events": len(mine),
            "readable_ms": percentiles([a.read_ts - a.event_ts for a in mine]),
            "cassandra_ms": percentiles(stored),
            "cassandra_samples": len(stored),
        }
    return out


def _drain_cassandra(watcher: CassandraWatcher, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while watcher.pending() and time.monotonic() < deadline and watcher.error is None:
        time.sleep(0.02)
    if watcher.error is not None:
        raise RuntimeError(f"polling Cassandra failed: {watcher.error}")


def _brief(point: dict[str, Any]) -> str:
    parts = [f"emitted p50/p99 {point['emitted_ms']['p50']}/{point['emitted_ms']['p99']} ms"]
    parts.append(f"readable p50/p99 {point['readable_ms']['p50']}/{point['readable_ms']['p99']}")
    if "cassandra_ms" in point:
        c = point["cassandra_ms"]
        parts.append(f"Cassandra p50/p99 {c['p50']}/{c['p99']}")
    return ", ".join(parts)
