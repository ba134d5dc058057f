"""Tombstones (null values) are skipped by the source and counted in the JVM.

A real job reads a topic through streamrec's TombstoneCountingBytesDeserializer
(built from jvm/streamrec-connectors by ``stack up``): the normal records reach
the Python operator as ``bytes`` and the output topic, the tombstones do not, and
the source's ``tombstonesSkipped`` metric in the REST API equals their number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamrec.jobs.kafka_records import TOMBSTONE_METRIC_PATH, source_operator
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.topics import TopicSpec, ensure_topics
from tests.integration import tombstones_job
from tests.integration.test_kafka import read_committed
from tests.polling import wait_for

pytestmark = pytest.mark.integration

JOB = Path(tombstones_job.__file__)


def metric_ids(config: StackConfig, job_id: str) -> list[str]:
    """Every metric id of every vertex: a failure shows the names Flink really used."""
    ids: list[str] = []
    for vertex in flink_client.job_details(config, job_id)["vertices"]:
        listed = flink_client.rest_get(config, f"/jobs/{job_id}/vertices/{vertex['id']}/metrics")
        ids += [entry["id"] for entry in listed]
    return sorted(ids)


def test_tombstones_are_skipped_and_counted(stack_config: StackConfig, unique_name: str) -> None:
    source_topic, output_topic = f"{unique_name}_in", f"{unique_name}_out"
    ensure_topics(
        stack_config.kafka_bootstrap, [TopicSpec(source_topic, 1), TopicSpec(output_topic, 1)]
    )
    producer = Producer({"bootstrap.servers": stack_config.kafka_bootstrap})
    normal = [json.dumps({"n": i}) for i in range(5)]
    tombstones = 3
    # Interleaved, so a tombstone between two records must not stop or reorder them.
    for i, value in enumerate(normal):
        producer.produce(source_topic, key=f"k{i}", value=value)
        if i < tombstones:
            producer.produce(source_topic, key=f"k{i}", value=None)
    producer.flush(30)

    job_id = flink_client.submit_python_job(
        stack_config,
        JOB,
        [
            "--bootstrap", stack_config.kafka_bootstrap,
            "--input-topic", source_topic,
            "--output-topic", output_topic,
            "--job-name", unique_name,
        ],
    )  # fmt: skip
    try:
        received = read_committed(stack_config.kafka_bootstrap, output_topic, len(normal), 90)
        assert [v.decode() for v in received] == [f"bytes:{v}" for v in normal]

        operator = source_operator(tombstones_job.SOURCE_NAME)

        def all_counted() -> bool:
            counted = flink_client.operator_metric(
                stack_config, job_id, operator, TOMBSTONE_METRIC_PATH
            )
            return counted == tombstones

        try:
            wait_for(all_counted, 30, f"{tombstones} tombstones counted")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; metrics: {metric_ids(stack_config, job_id)}") from None
    finally:
        flink_client.cancel_job(stack_config, job_id)
    wait_for(lambda: flink_client.job_state(stack_config, job_id) == "CANCELED", 60, "job CANCELED")
