"""Copy the serving-features topic into a JSONL file that ``model train --serving-log``
reads: every committed record from the beginning up to the end the topic had when the
export started, one value per line, each partition in its own order (so each user's
records stay in serving order: the topic is keyed by user)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from streamrec.model_registry.errors import DataError


@dataclass
class Exported:
    records: int
    tombstones: int
    """Null values (no record to train on), skipped."""


def export_topic(bootstrap: str, topic: str, out: Path, *, timeout_s: float = 300.0) -> Exported:
    """Write ``topic``'s committed values to ``out`` (replaced); DataError if the topic is
    missing or its end is not reached within ``timeout_s``."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"serving-log-export-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            # The end a read_committed reader can reach (transaction markers take offsets,
            # and an open transaction holds it back) is told by an EOF event, not an offset.
            "enable.partition.eof": True,
        }
    )
    try:
        info = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise DataError(f"topic {topic!r} is not available on {bootstrap}")
        ends: dict[int, int] = {}
        starts = []
        for partition in info.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        consumer.assign(starts)
        done = Exported(0, 0)
        deadline = time.monotonic() + timeout_s
        partial = out.with_name(out.name + ".partial")
        with open(partial, "wb") as fh:
            while ends:
                if time.monotonic() > deadline:
                    raise DataError(
                        f"{topic}: end not reached in {timeout_s:.0f} s (partitions left: "
                        f"{sorted(ends)}); an open transaction holds read_committed readers"
                    )
                message = consumer.poll(0.5)
                if message is None:
                    continue
                partition = message.partition()
                if message.error():
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        ends.pop(partition, None)  # every committed record read
                    continue
                if partition not in ends or message.offset() >= ends[partition]:
                    ends.pop(partition, None)  # newer than the export: left for the next
                    continue
                value = message.value()
                if value is None:
                    done.tombstones += 1
                else:
                    # Our records are compact JSON; a raw newline can only be whitespace.
                    fh.write(value.replace(b"\n", b" ") + b"\n")
                    done.records += 1
        partial.replace(out)
        return done
    finally:
        consumer.close()
