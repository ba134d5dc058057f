"""Put a model package on the ``models`` topic as chunks, and read it back.

Keys are ``<model name>/<chunk index>``, all written to one partition picked from the
model name: the topic is compacted, and one key per chunk index means compaction keeps
the newest complete package (a single key per model would compact every chunk but the
last away). The chunk header carries name, version and package sha256, so a plain
consumer reassembles and verifies without anything else.

All chunks of a package go out in one Kafka transaction: a read_committed reader
(the job, ``consume_packages``) sees the whole package or none of it, even when
the publisher dies half-way.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

from streamrec.model_registry.chunks import DEFAULT_MAX_CHUNK_BYTES, Chunk, ChunkAssembler, chunk
from streamrec.model_registry.errors import ChunkError, PublishError
from streamrec.model_registry.package import read_manifest

DEFAULT_TOPIC = "models"


def chunk_key(model_name: str, index: int) -> bytes:
    return f"{model_name}/{index}".encode()


def model_partition(model_name: str, partitions: int) -> int:
    """Stable partition for a model (crc32 is the same in every process, unlike hash())."""
    return zlib.crc32(model_name.encode()) % partitions


def publish_package(
    package: bytes,
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    timeout_s: float = 30.0,
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> int:
    """Publish ``package`` (verified for readability first); return the number of chunks."""
    manifest = read_manifest(package)
    chunks = chunk(
        package, max_chunk_bytes, model_name=manifest.model_name, version=manifest.version
    )
    config = {
        "bootstrap.servers": bootstrap_servers,
        "linger.ms": 5,
        # One id per model: a new publisher of the same model fences a stuck one.
        "transactional.id": f"streamrec-publisher-{manifest.model_name}",
    }
    if producer_factory is None:
        from confluent_kafka import Producer

        producer_factory = Producer
    producer = producer_factory(config)
    try:
        meta = producer.list_topics(topic, timeout=timeout_s)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise PublishError(
                f"topic {topic!r} is not available on {bootstrap_servers}: "
                f"{getattr(info, 'error', 'no metadata')}"
            )
        partition = model_partition(manifest.model_name, len(info.partitions))
    except PublishError:
        raise
    except Exception as ex:
        raise PublishError(f"cannot reach Kafka at {bootstrap_servers}: {ex}") from ex
    failures: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    where = f"model {manifest.model_name} v{manifest.version}"
    try:
        producer.init_transactions(timeout_s)
        producer.begin_transaction()
        for c in chunks:
            producer.produce(
                topic,
                key=chunk_key(c.model_name, c.index),
                value=c.to_bytes(),
                partition=partition,
                on_delivery=on_delivery,
            )
            producer.poll(0)
        remaining = producer.flush(timeout_s)
        if failures or remaining:
            producer.abort_transaction(timeout_s)
            raise PublishError(
                f"{where}: {len(failures)} chunk(s) failed ({'; '.join(failures[:3])}), "
                f"{remaining} undelivered after {timeout_s}s; the transaction was aborted"
            )
        producer.commit_transaction(timeout_s)
    except PublishError:
        raise
    except Exception as ex:
        raise PublishError(f"{where}: publishing to {topic!r} failed: {ex}") from ex
    return len(chunks)


def consume_packages(
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    group_id: str | None = None,
    timeout_s: float = 10.0,
) -> Iterator[bytes]:
    """Yield every complete package found on ``topic`` from the beginning, oldest first.

    Stops after ``timeout_s`` without a new message. Stray chunks are skipped.
    """
    import uuid

    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id or f"streamrec-package-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    assemblers: dict[str, ChunkAssembler] = {}
    try:
        consumer.subscribe([topic])
        while True:
            msg = consumer.poll(timeout_s)
            if msg is None:
                return
            if msg.error() is not None:
                continue
            try:
                piece = Chunk.from_bytes(msg.value())
                done = assemblers.setdefault(piece.model_name, ChunkAssembler()).add(piece)
            except ChunkError:
                continue
            if done is not None:
                yield done
    finally:
        consumer.close()
