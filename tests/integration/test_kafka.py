"""Kafka on the real broker: transactions are what exactly-once output relies on."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from streamrec.stack.config import StackConfig
from streamrec.stack.topics import TopicSpec, ensure_topics


def read_committed(
    bootstrap: str, topic: str, expect_at_least: int, timeout_s: float = 30.0
) -> list[bytes]:
    """Consume with read_committed until the topic's end (or timeout) and return values."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-reader",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    reached_eof = False
    while time.monotonic() < deadline and not (reached_eof and len(values) >= expect_at_least):
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            reached_eof = message.error().name() == "_PARTITION_EOF"
            continue
        values.append(message.value())
    consumer.close()
    return values


def test_stack_topics_exist_with_compaction(stack_config: StackConfig) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": stack_config.kafka_bootstrap})
    topics = admin.list_topics(timeout=10).topics
    assert {"events", "recommendations", "events.dlq", "models", "rules"} <= set(topics)
    assert len(topics["events"].partitions) == stack_config.topic_partitions
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in ("models", "rules")]
    for future in admin.describe_configs(resources).values():
        assert future.result()["cleanup.policy"].value == "compact"


def test_transactional_produce_is_read_committed_and_abort_is_invisible(
    stack_config: StackConfig, unique_name: str
) -> None:
    bootstrap = stack_config.kafka_bootstrap
    ensure_topics(bootstrap, [TopicSpec(unique_name, 1)])
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{unique_name}-tx"})
    producer.init_transactions(30)

    producer.begin_transaction()
    for i in range(5):
        producer.produce(unique_name, key=b"k", value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    producer.begin_transaction()
    for i in range(3):
        producer.produce(unique_name, key=b"k", value=f"aborted-{i}".encode())
    producer.flush(30)  # the aborted records really reach the log
    producer.abort_transaction(30)

    producer.begin_transaction()
    producer.produce(unique_name, key=b"k", value=b"committed-last")
    producer.commit_transaction(30)

    values = read_committed(bootstrap, unique_name, expect_at_least=6)
    assert values == [f"committed-{i}".encode() for i in range(5)] + [b"committed-last"]
