"""A PyFlink DataStream job submitted with ``flink run --python`` to the real cluster.

It reads a Kafka topic through KafkaSource and writes another through an
exactly-once KafkaSink: this is the check that the Kafka connector jar
(flink-sql-connector-kafka 5.0.0-2.2) works on Flink 2.3.
"""

from __future__ import annotations

import json
from pathlib import Path

from confluent_kafka import Producer

from streamrec.jobs import smoke
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.prometheus_scrape import samples, scrape
from streamrec.stack.topics import TopicSpec, ensure_topics
from tests.integration.test_kafka import read_committed
from tests.polling import wait_for

SMOKE_JOB = Path(smoke.__file__)


def test_kafka_to_kafka_job_runs_and_delivers(stack_config: StackConfig, unique_name: str) -> None:
    events, recommendations = f"{unique_name}_events", f"{unique_name}_recs"
    ensure_topics(
        stack_config.kafka_bootstrap, [TopicSpec(events, 2), TopicSpec(recommendations, 2)]
    )
    job_id = flink_client.submit_python_job(
        stack_config,
        SMOKE_JOB,
        [
            "--bootstrap",
            stack_config.kafka_bootstrap,
            "--events-topic",
            events,
            "--recommendations-topic",
            recommendations,
            "--group-id",
            unique_name,
            "--job-name",
            unique_name,
        ],
    )
    try:
        listed = {job["jid"]: job for job in flink_client.jobs_overview(stack_config)}
        assert job_id in listed and listed[job_id]["name"] == unique_name
        wait_for(
            lambda: flink_client.all_tasks_running(stack_config, job_id), 120, "all tasks RUNNING"
        )
        assert flink_client.job_state(stack_config, job_id) == "RUNNING"

        producer = Producer({"bootstrap.servers": stack_config.kafka_bootstrap})
        sent = {}
        for i in range(50):
            event = {
                "event_id": f"e{i}",
                "user_id": f"u{i % 7}",
                "item_id": "i1",
                "type": "view",
                "ts": i,
            }
            sent[event["event_id"]] = event
            producer.produce(events, key=event["user_id"], value=json.dumps(event))
        producer.flush(30)

        received = [
            json.loads(v)
            for v in read_committed(stack_config.kafka_bootstrap, recommendations, 50, 90)
        ]
        assert sorted(r["event_id"] for r in received) == sorted(sent)
        for rec in received:
            assert rec["user_id"] == sent[rec["event_id"]]["user_id"]
            assert rec["event_ts"] == sent[rec["event_id"]]["ts"]
    finally:
        flink_client.cancel_job(stack_config, job_id)
    wait_for(lambda: flink_client.job_state(stack_config, job_id) == "CANCELED", 60, "job CANCELED")


def test_the_cluster_serves_prometheus_metrics(stack_config: StackConfig) -> None:
    """Both JVMs report: the JobManager's registered TaskManagers, the TaskManager's JVM."""
    text = scrape(stack_config)
    registered = samples(text, "flink_jobmanager_numRegisteredTaskManagers")
    assert registered and registered[0][1] >= 1, text[:500]
    assert samples(text, "flink_taskmanager_Status_JVM_CPU_Load"), text[:500]
