"""Publish a model version onto the ``models`` topic as a signed reference, and read it back.

The package bytes go to a durable artifact store (MLflow's, for a registered version, where
training already put them); the topic carries one small signed JSON reference per version
(``reference``), keyed by the model name, so the compacted topic keeps the newest version
of each model. Every record of a model goes to one partition picked from its name, so
versions of one model stay in order whatever client wrote them.

Packages never travel inline: one path to verify, broadcast state that stays a few hundred
bytes per model whatever the catalogue size, and no chunk reassembly to bound.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from streamrec.model_package.package import package_sha256, read_manifest
from streamrec.model_package.reference import ModelReference
from streamrec.model_package.signing import sign
from streamrec.model_registry.errors import PublishError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from streamrec.model_registry.artifact_store import ArtifactStore
    from streamrec.stack.config import StackConfig

DEFAULT_TOPIC = "models"


def model_partition(model_name: str, partitions: int) -> int:
    """Stable partition for a model (crc32 is the same in every process, unlike hash())."""
    return zlib.crc32(model_name.encode()) % partitions


def reference_for(package: bytes, uri: str, model_name: str, version: str) -> ModelReference:
    """An unsigned reference to ``package`` stored at ``uri``, stamped with the time now."""
    return ModelReference(
        model_name=model_name,
        version=version,
        sha256=package_sha256(package),
        size=len(package),
        uri=uri,
        published_ms=int(time.time() * 1000),
    )


def publish_package(
    package: bytes,
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    *,
    store: ArtifactStore,
    signing_key: Ed25519PrivateKey,
    model_name: str | None = None,
    version: str | None = None,
    timeout_s: float = 30.0,
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> ModelReference:
    """Store ``package``, then publish a signed reference to it; return the reference.

    Name and version come from the package's manifest unless given (a test publishing
    deliberately broken bytes gives them).
    """
    if model_name is None or version is None:
        manifest = read_manifest(package)
        model_name = model_name or manifest.model_name
        version = version or manifest.version
    uri = store.put(package)
    reference = sign(reference_for(package, uri, model_name, version), signing_key)
    publish_reference(reference, bootstrap_servers, topic, timeout_s, producer_factory)
    return reference


def publish_reference(
    reference: ModelReference,
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    timeout_s: float = 30.0,
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Put one (signed) reference on ``topic``, keyed by its model name."""
    publish_raw(
        reference.to_bytes(), reference.model_name, bootstrap_servers, topic,
        timeout_s, producer_factory,
    )  # fmt: skip


def publish_raw(
    value: bytes,
    model_name: str,
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    timeout_s: float = 30.0,
    producer_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> None:
    """Put any bytes on ``topic`` where ``model_name``'s references go (tests send bad ones)."""
    if producer_factory is None:
        from confluent_kafka import Producer

        producer_factory = Producer
    producer = producer_factory(
        {"bootstrap.servers": bootstrap_servers, "enable.idempotence": True, "acks": "all"}
    )
    try:
        meta = producer.list_topics(topic, timeout=timeout_s)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise PublishError(
                f"topic {topic!r} is not available on {bootstrap_servers}: "
                f"{getattr(info, 'error', 'no metadata')}"
            )
        partition = model_partition(model_name, len(info.partitions))
    except PublishError:
        raise
    except Exception as ex:
        raise PublishError(f"cannot reach Kafka at {bootstrap_servers}: {ex}") from ex
    failures: list[str] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    try:
        producer.produce(
            topic, key=model_name.encode(), value=value, partition=partition,
            on_delivery=on_delivery,
        )  # fmt: skip
        remaining = producer.flush(timeout_s)
    except Exception as ex:
        raise PublishError(f"model {model_name}: publishing to {topic!r} failed: {ex}") from ex
    if failures or remaining:
        raise PublishError(
            f"model {model_name}: the reference was not delivered to {topic!r} "
            f"({'; '.join(failures[:3]) or f'undelivered after {timeout_s}s'})"
        )


def publish_to_stack(
    package: bytes,
    config: StackConfig,
    topic: str = DEFAULT_TOPIC,
    *,
    model_name: str | None = None,
    version: str | None = None,
) -> ModelReference:
    """Publish an unregistered package on a local stack: its MLflow store, its signing key."""
    from streamrec.model_package.signing import load_private_key
    from streamrec.model_registry.artifact_store import MlflowArtifactStore
    from streamrec.stack.keys import signing_key_path

    return publish_package(
        package, config.kafka_bootstrap, topic,
        store=MlflowArtifactStore(config.mlflow_url),
        signing_key=load_private_key(signing_key_path(config)),
        model_name=model_name, version=version,
    )  # fmt: skip


def consume_references(
    bootstrap_servers: str,
    topic: str = DEFAULT_TOPIC,
    timeout_s: float = 10.0,
) -> Iterator[bytes]:
    """Yield every record value on ``topic`` from the beginning, oldest first.

    Stops after ``timeout_s`` without a new message. Values are raw: parse them with
    ``reference.parse_reference`` (a topic may hold anything anyone wrote to it).
    """
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"streamrec-reference-reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        consumer.subscribe([topic])
        while True:
            msg = consumer.poll(timeout_s)
            if msg is None:
                return
            if msg.error() is None and msg.value() is not None:
                yield msg.value()
    finally:
        consumer.close()
