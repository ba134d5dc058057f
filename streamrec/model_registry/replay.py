"""Produce event records to Kafka at a target rate, in file (timestamp) order."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamrec.contracts.event import Event

# Progress every 2 s: frequent enough to watch, rare enough not to slow the loop.
PROGRESS_EVERY_S = 2.0


def records_from_events(events: Iterable[Event]) -> Iterator[tuple[bytes | None, bytes]]:
    for e in events:
        yield e.user_id.encode(), e.to_json().encode()


def with_categories(events: Iterable[Event], categories: Mapping[str, str]) -> Iterator[Event]:
    """``events`` with their item's category in ``context.category`` (as a client would
    send it; the job's per-category trending reads it), unless they carry one."""
    for e in events:
        category = categories.get(e.item_id) if e.item_id is not None else None
        if category is None or "category" in e.context:
            yield e
        else:
            yield dataclasses.replace(e, context={**e.context, "category": category})


def shifted(events: Sequence[Event], end_ms: int) -> Iterator[Event]:
    """``events`` (sorted by ts) moved in time so the last one is at ``end_ms``.

    One offset for all: the gaps between events, and so the decayed features the job
    folds from them, are those of the log; a years-old log then passes the parser's
    event-age bound.
    """
    if not events:
        return
    offset = end_ms - events[-1].ts
    for e in events:
        yield dataclasses.replace(e, ts=e.ts + offset)


def live_copies(events: Sequence[Event], prefix: str) -> list[dict[str, Any]]:
    """Events as JSON-ready dicts with ids unique to ``prefix``; ``ts`` is set when sent."""
    return [
        {"event_id": f"{prefix}-{n}", "user_id": e.user_id, "item_id": e.item_id, "type": e.type}
        for n, e in enumerate(events)
    ]


def records_stamped_at_send(events: Iterable[dict[str, Any]]) -> Iterator[tuple[bytes, bytes]]:
    """Records whose ``ts`` is the moment ``replay`` takes them, written back into each dict.

    Lazy on purpose: ``replay`` pulls one record just before producing it, so ``ts`` is the
    send time even when the stream is paced over minutes.
    """
    for event in events:
        event["ts"] = int(time.time() * 1000)
        yield event["user_id"].encode(), json.dumps(event).encode()


def records_from_jsonl(path: Path) -> Iterator[tuple[bytes | None, bytes]]:
    """Raw lines as they are (malformed ones included); key = user_id when readable."""
    with open(path, "rb") as fh:
        for line in fh:
            raw = line.rstrip(b"\n")
            if raw:
                yield _key_of(raw), raw


def replay(
    records: Iterable[tuple[bytes | None, bytes]],
    bootstrap_servers: str,
    topic: str,
    rate_per_s: float | None,
    progress: Callable[[str], None] = print,
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    linger_ms: int = 20,
) -> int:
    """Send records (key, value); ``rate_per_s`` None means as fast as possible.

    ``linger_ms`` trades latency for batching; latency measurements want it small.
    """
    if producer_factory is None:
        from confluent_kafka import Producer

        producer_factory = Producer
    producer = producer_factory(
        {
            "bootstrap.servers": bootstrap_servers,
            "linger.ms": linger_ms,
            "enable.idempotence": True,
        }
    )
    start = last_report = clock()
    sent = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)  # local queue full: let deliveries drain
        sent += 1
        producer.poll(0)
        if rate_per_s:
            ahead = sent / rate_per_s - (clock() - start)
            if ahead > 0:
                sleep(ahead)
        now = clock()
        if now - last_report >= PROGRESS_EVERY_S:
            progress(f"{sent} records, {sent / max(now - start, 1e-9):.0f}/s")
            last_report = now
    producer.flush(60)
    elapsed = max(clock() - start, 1e-9)
    progress(f"done: {sent} records in {elapsed:.1f}s ({sent / elapsed:.0f}/s) to {topic}")
    return sent


def _key_of(raw: bytes) -> bytes | None:
    try:
        user = json.loads(raw).get("user_id")
    except (ValueError, AttributeError):
        return None
    return user.encode() if isinstance(user, str) else None
