"""Feedback joined to recommendations in event time, on the real stack.

Impressions and a click sent for known recommendation ids give the expected CTR for the
version that answered, on the feedback topic and in Cassandra, and the job's feedback
counters in Prometheus; feedback naming no recommendation is counted as unmatched, not lost.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from streamrec.scoring.popularity import FALLBACK_VERSION
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

HORIZON_MS, WINDOW_MS = 10_000, 5_000


@pytest.fixture
def feedback_job(stack_config: StackConfig) -> Iterator[tuple[str, JobTopics]]:
    topics = JobTopics(f"feedback_{uuid.uuid4().hex[:8]}")
    job_id = submit_job(
        stack_config,
        topics,
        [
            "--feedback-horizon-ms", str(HORIZON_MS),
            "--feedback-window-ms", str(WINDOW_MS),
            "--feedback-lateness-ms", "1000",
            "--trending-lateness-ms", "1000",
            "--idleness-ms", "2000",
        ],
    )  # fmt: skip
    try:
        yield job_id, topics
    finally:
        flink_client.cancel_job(stack_config, job_id)


def event(event_id: str, user: str, event_type: str, ts: int, **context: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": event_id, "user_id": user, "item_id": "i1",
                           "type": event_type, "ts": ts}  # fmt: skip
    if context:
        out["context"] = context
    return out


def totals(records: list[tuple[bytes | None, bytes]], version: str) -> dict[str, int]:
    out = {"impressions": 0, "clicks": 0}
    for key, value in records:
        doc = json.loads(value)
        assert key is not None and key.decode() == doc["model_version"]
        if doc["model_version"] == version:
            for name in out:
                out[name] += doc[name]
    return out


def test_impressions_and_clicks_give_the_ctr_of_the_version_that_answered(
    stack_config: StackConfig, feedback_job: tuple[str, JobTopics]
) -> None:
    _, topics = feedback_job
    run = uuid.uuid4().hex[:6]
    started_ms = now_ms()
    producer = EventProducer(stack_config.kafka_bootstrap, topics.events)
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    feedback = TopicReader(stack_config.kafka_bootstrap, topics.feedback)
    try:
        asks = [event(f"{run}-ask{n}", f"{run}-u{n}", "view", now_ms()) for n in range(4)]
        producer.send(asks)
        answered = recs.wait_for_events({e["event_id"] for e in asks})
        assert {a["model_version"] for a in answered.values()} == {FALLBACK_VERSION}
        ts = now_ms()
        reports = [
            event(f"{run}-imp{n}", a["user_id"], "impression", ts, rec_id=a["event_id"])
            for n, a in enumerate(answered.values())
        ]
        clicked = next(iter(answered.values()))
        reports.append(event(f"{run}-click", clicked["user_id"], "click", ts,
                             rec_id=clicked["event_id"]))  # fmt: skip
        reports.append(event(f"{run}-stray", f"{run}-x", "impression", ts, rec_id=f"{run}-nope"))
        producer.send(reports)

        # Event time must pass the window and the horizon on both inputs: keep events (and
        # so recommendations) flowing until the counts are out.
        def counted() -> bool:
            producer.send([event(f"{run}-tick-{uuid.uuid4().hex[:6]}", f"{run}-clock",
                                 "view", now_ms())])  # fmt: skip
            feedback.drain(1.0)
            got = totals(feedback.records, FALLBACK_VERSION)
            return (
                got["impressions"] >= 4
                and totals(feedback.records, "unmatched")["impressions"] >= 1
            )

        wait_for(counted, 120, "feedback counts for the fallback version and the stray")
        assert totals(feedback.records, FALLBACK_VERSION) == {"impressions": 4, "clicks": 1}
        assert totals(feedback.records, "unmatched") == {"impressions": 1, "clicks": 0}
        docs = [json.loads(v) for _, v in feedback.records]
        mine = [d for d in docs if d["model_version"] == FALLBACK_VERSION]
        assert all(d["strategy"] == "popularity" and d["rules_version"] == "none" for d in mine)
        assert all(d["window_end"] - d["window_start"] == WINDOW_MS for d in docs)
        if len(mine) == 1:
            assert mine[0]["ctr"] == 0.25

        # Cassandra holds the same counts; Prometheus the per-version counters.
        def stored() -> dict[str, int]:
            with connect("127.0.0.1", stack_config.cassandra_port, stack_config.keyspace) as cql:
                rows = cql.execute(
                    "SELECT window_start, impressions, clicks FROM feedback_by_version "
                    "WHERE model_version = %s",
                    (FALLBACK_VERSION,),
                )
                since = started_ms - 60_000
                mine = [r for r in rows if r.window_start.timestamp() * 1000 >= since]
                return {"impressions": sum(r.impressions for r in mine),
                        "clicks": sum(r.clicks for r in mine)}  # fmt: skip

        wait_for(lambda: stored() == {"impressions": 4, "clicks": 1}, 60, "feedback rows")

        def metric(name: str) -> float:
            text = scrape(stack_config)
            return sum(v for _, v in samples(text, f"flink_taskmanager_job_task_operator_{name}"))

        try:
            wait_for(lambda: metric("feedback_clicks") >= 1 and metric("feedback_unmatched") >= 1,
                     60, "the feedback counters on the Prometheus endpoint")  # fmt: skip
            assert metric("feedback_impressions") == 4
            assert metric("feedback_servingCtrPpm") == 250_000
        except AssertionError as ex:
            text = scrape(stack_config)
            lines = [line for line in text.splitlines() if "operator_feedback" in line]
            lines += [line for line in text.splitlines() if "operator_answeredBy" in line][:3]
            lines.append(f"{len(text)} chars scraped")
            raise AssertionError(f"{ex}; feedback metrics served: {lines[:20]}") from None
    finally:
        recs.close()
        feedback.close()
