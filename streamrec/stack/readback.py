"""Read a job's recommendations back from Kafka as a consumer of the product would."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any


def read_recommendations(
    bootstrap: str,
    topic: str,
    wanted: set[str],
    timeout_s: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Recommendations whose trigger is in ``wanted``, keyed by event id, read_committed.

    Each record gets ``read_ts``: when it became readable here (for visibility latency).
    Stops when all arrived or after ``timeout_s``.
    """
    consumer = _committed_reader(bootstrap, topic)
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < len(wanted) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            record = json.loads(message.value())
            if record.get("event_id") in wanted:
                record["read_ts"] = int(time.time() * 1000)
                found[record["event_id"]] = record
                if progress is not None and len(found) % 1000 == 0:
                    progress(len(found), len(wanted))
    finally:
        consumer.close()
    return found


def read_values(bootstrap: str, topic: str, seconds: float) -> list[bytes]:
    """Every committed record value of ``topic`` from its start, reading for ``seconds``."""
    consumer = _committed_reader(bootstrap, topic)
    values: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is not None and not message.error() and message.value() is not None:
                values.append(message.value())
    finally:
        consumer.close()
    return values


def _committed_reader(bootstrap: str, topic: str) -> Any:
    """A consumer of ``topic`` from its start that sees committed records only."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"streamrec-readback-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    return consumer
