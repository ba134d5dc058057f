"""Trending in event time and cold start, on the real stack.

A burst of events on one item appears at the top of the trending topic once its window
closes in event time (per category too), is written to Cassandra, and answers a brand-new
user's first event (``strategy: trending``, in recs_by_user as well); an event later than
the allowed lateness is dropped and counted, not folded into a closed window.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.prometheus_scrape import samples, scrape
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    TopicReader,
    now_ms,
    submit_job,
    wait_for,
)

WINDOW_MS, SLIDE_MS, LATENESS_MS = 10_000, 5_000, 1_000
OPERATOR = "flink_taskmanager_job_task_operator_"
README_METRICS = [
    f"{OPERATOR}{name}"
    for name in (
        "eventsIn", "deadLetters_bad_json", "scoringLatencyMicros",
        "cassandraWriteLatencyMicros", "answeredBy_model", "answeredBy_popularity",
        "numLateRecordsDropped", "KafkaSourceReader_KafkaConsumer_records_lag_max",
        "modelVersion", "feedback_servingCtrPpm", "feedback_servingHitRatePpm",
    )
]  # fmt: skip
BURST = 30


@pytest.fixture
def trending_job(stack_config: StackConfig) -> Iterator[tuple[str, JobTopics]]:
    topics = JobTopics(f"trend_{uuid.uuid4().hex[:8]}")
    job_id = submit_job(
        stack_config,
        topics,
        [
            "--cold-start-events", "1",
            "--trending-window-ms", str(WINDOW_MS),
            "--trending-slide-ms", str(SLIDE_MS),
            "--trending-lateness-ms", str(LATENESS_MS),
            # Two partitions; a quiet one must not hold the watermark for long.
            "--idleness-ms", "2000",
        ],
    )  # fmt: skip
    try:
        yield job_id, topics
    finally:
        flink_client.cancel_job(stack_config, job_id)


def event(run: str, n: int, user: str, item: str, ts: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"{run}-{n}", "user_id": user, "item_id": item, "type": "view",
            "ts": ts, **extra}  # fmt: skip


def late_records_dropped(config: StackConfig, job_id: str) -> float:
    """numLateRecordsDropped summed over every operator that reports it (the SQL windows)."""
    total = 0.0
    for vertex in flink_client.job_details(config, job_id)["vertices"]:
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
        names = [m["id"] for m in flink_client.rest_get(config, path)
                 if m["id"].endswith("numLateRecordsDropped")]  # fmt: skip
        if names:
            query = {"get": ",".join(names), "agg": "sum"}
            for entry in flink_client.rest_get(config, path, query):
                total += float(entry.get("sum", 0))
    return total


def test_a_burst_trends_after_its_window_and_answers_a_new_user(
    stack_config: StackConfig, trending_job: tuple[str, JobTopics]
) -> None:
    job_id, topics = trending_job
    run = uuid.uuid4().hex[:6]
    hot, warm = f"{run}-hot", f"{run}-warm"
    producer = EventProducer(stack_config.kafka_bootstrap, topics.events)
    trending = TopicReader(stack_config.kafka_bootstrap, topics.trending)
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    try:
        start = now_ms()
        burst = [event(run, n, f"{run}-u{n}", hot, start + n, context={"category": "gadgets"})
                 for n in range(BURST)]  # fmt: skip
        burst += [event(run, BURST + n, f"{run}-w{n}", warm, start + n) for n in range(5)]
        producer.send(burst)
        # Event time moves on: every window holding the burst closes (lateness included).
        later = start + WINDOW_MS + SLIDE_MS + LATENESS_MS
        producer.send([event(run, 100 + p, f"{run}-clock{p}", f"{run}-tick", later)
                       for p in range(4)])  # fmt: skip

        def lists(records: list[tuple[bytes | None, bytes]]) -> dict[str, dict]:
            out: dict[str, dict] = {}
            for key, value in records:
                doc = json.loads(value)
                assert key is not None and key.decode() == doc["scope"], "key must be the scope"
                if any(i["item_id"] == hot for i in doc["items"]):
                    out[doc["scope"]] = doc
            return out

        trending.until(lambda r: {"all", "category:gadgets"} <= set(lists(r)), 120,
                       "the burst on the trending topic, overall and in its category")  # fmt: skip
        found = lists(trending.records)
        for scope in ("all", "category:gadgets"):
            top = max(found[scope]["items"], key=lambda i: i["score"])
            assert top["item_id"] == hot and top["events"] == BURST, found[scope]
            assert found[scope]["window_end"] - found[scope]["window_start"] == WINDOW_MS
        assert all(i["item_id"] != warm for i in found["category:gadgets"]["items"])
        assert {i["item_id"] for i in found["all"]["items"]} >= {hot, warm}

        # An event behind the watermark by more than the lateness: dropped, and counted.
        dropped_before = late_records_dropped(stack_config, job_id)
        producer.send([event(run, 200, f"{run}-late", f"{run}-late-item",
                             start - WINDOW_MS)])  # fmt: skip
        wait_for(lambda: late_records_dropped(stack_config, job_id) > dropped_before, 60,
                 "the late event counted in numLateRecordsDropped")  # fmt: skip

        # A brand-new user's first event is answered from trending, and Cassandra says so
        # (once the lists' Kafka transaction commits, at the next checkpoint).
        answers: list[dict] = []

        def new_user_answered_from_trending() -> bool:
            user = f"{run}-new-{len(answers)}"
            first = event(run, 300 + len(answers), user, f"{run}-other", now_ms())
            producer.send([first])
            answers.append(recs.wait_for_events({first["event_id"]})[first["event_id"]])
            return answers[-1]["strategy"] == "trending"

        wait_for(new_user_answered_from_trending, 90, "a new user answered from trending")
        answer = answers[-1]
        assert answer["items"][0]["item_id"] == hot
        assert all(a["strategy"] == "popularity" for a in answers[:-1])
        # A user's second event is not cold: popularity answers (no model published).
        second = event(run, 400, f"{run}-u0", hot, now_ms())
        producer.send([second])
        assert recs.wait_for_events({second["event_id"]})[second["event_id"]]["strategy"] == (
            "popularity"
        )
        with connect("127.0.0.1", stack_config.cassandra_port, stack_config.keyspace) as cql:
            row = cql.execute(
                "SELECT strategy, ranked FROM recs_by_user WHERE user_id = %s",
                (answer["user_id"],),
            ).one()
            assert row is not None and row.strategy == "trending"
            assert row.ranked[0].item_id == hot
            scope = cql.execute(
                "SELECT ranked, window_end FROM trending_by_scope WHERE scope = %s",
                ("category:gadgets",),
            ).one()
            assert scope is not None and scope.ranked[0].item_id == hot
        assert flink_client.operator_metric(stack_config, job_id, "recommend",
                                            "answeredBy.trending") >= 1  # fmt: skip
        # The same counter where Prometheus reads it (the TaskManager's reporter).
        name = "flink_taskmanager_job_task_operator_answeredBy_trending"
        wait_for(lambda: any(v >= 1 for _, v in samples(scrape(stack_config), name)), 60,
                 f"{name} on the Prometheus endpoint")  # fmt: skip
        # Every metric the README's PromQL table names is there under that name.
        text = scrape(stack_config)
        missing = [m for m in README_METRICS if not samples(text, m)]
        assert not missing, f"README queries name metrics the reporter does not serve: {missing}"
    finally:
        trending.close()
        recs.close()
