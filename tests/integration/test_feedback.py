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

HORIZON_MS, WINDOW_MS, HIT_K = 10_000, 5_000, 10
COUNTS, HITS = ("impressions", "clicks"), ("recommendations", "hits")


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


def event(
    event_id: str, user: str, event_type: str, ts: int, item: str = "i1", **context: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": event_id, "user_id": user, "item_id": item,
                           "type": event_type, "ts": ts}  # fmt: skip
    if context:
        out["context"] = context
    return out


def totals(
    records: list[tuple[bytes | None, bytes]], version: str, fields: tuple[str, ...] = COUNTS
) -> dict[str, int]:
    """``fields`` summed over the version's records of the kind that has them."""
    out = dict.fromkeys(fields, 0)
    for key, value in records:
        doc = json.loads(value)
        assert key is not None and key.decode() == doc["model_version"]
        if doc["model_version"] == version and fields[0] in doc:
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
        # Popular items first (a user each: one event, so none of their lists can be hit),
        # so that the lists answering the asks below are not empty.
        seeds = [event(f"{run}-seed{n}", f"{run}-s{n}", "purchase", now_ms(), item=f"p{n}")
                 for n in range(3)]  # fmt: skip
        producer.send(seeds)
        recs.wait_for_events({e["event_id"] for e in seeds})
        asks = [event(f"{run}-ask{n}", f"{run}-u{n}", "view", now_ms()) for n in range(4)]
        producer.send(asks)
        answered = recs.wait_for_events({e["event_id"] for e in asks})
        assert {a["model_version"] for a in answered.values()} == {FALLBACK_VERSION}
        answers = list(answered.values())
        engaged = answers[1]
        shown = [i["item_id"] for i in engaged["items"][:HIT_K]]
        assert shown, f"an empty list answered {engaged['event_id']}"
        ts = now_ms()
        reports = [
            event(f"{run}-imp{n}", a["user_id"], "impression", ts, rec_id=a["event_id"])
            for n, a in enumerate(answered.values())
        ]
        clicked = answers[0]
        reports.append(event(f"{run}-click", clicked["user_id"], "click", ts,
                             rec_id=clicked["event_id"]))  # fmt: skip
        reports.append(event(f"{run}-stray", f"{run}-x", "impression", ts, rec_id=f"{run}-nope"))
        # Hit rate@k needs no feedback report: a view of a shown item is a hit.
        reports.append(event(f"{run}-engaged", engaged["user_id"], "view", ts, item=shown[-1]))
        producer.send(reports)
        clicked_top = [i["item_id"] for i in clicked["items"][:HIT_K]]
        expected_hits = 1 + ("i1" in clicked_top)

        # Event time must pass the window and the horizon on both inputs: keep events (and
        # so recommendations) flowing until the counts are out.
        # A new user per tick: one event each, so no tick's list can be hit.
        def counted() -> bool:
            tick = uuid.uuid4().hex[:6]
            producer.send([event(f"{run}-tick-{tick}", f"{run}-clock-{tick}", "view", now_ms())])
            feedback.drain(1.0)
            got = totals(feedback.records, FALLBACK_VERSION)
            return (
                got["impressions"] >= 4
                and totals(feedback.records, "unmatched")["impressions"] >= 1
                and totals(feedback.records, FALLBACK_VERSION, HITS)["hits"] >= expected_hits
            )

        wait_for(counted, 120, "feedback counts and hits for the fallback version and the stray")
        assert totals(feedback.records, FALLBACK_VERSION) == {"impressions": 4, "clicks": 1}
        assert totals(feedback.records, "unmatched") == {"impressions": 1, "clicks": 0}
        hits = totals(feedback.records, FALLBACK_VERSION, HITS)
        assert hits["hits"] == expected_hits
        # The asks' windows have closed (their hits are counted), and the seeds' before them;
        # later lists may still be in open windows. No list is counted twice.
        assert len(seeds) + len(asks) <= hits["recommendations"]
        recs.drain(2.0)  # counted lists were committed a horizon ago
        assert hits["recommendations"] <= len(recs.records)
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
                    "SELECT window_start, impressions, clicks, hits FROM feedback_by_version "
                    "WHERE model_version = %s",
                    (FALLBACK_VERSION,),
                )
                since = started_ms - 60_000
                mine = [r for r in rows if r.window_start.timestamp() * 1000 >= since]
                return {"impressions": sum(r.impressions or 0 for r in mine),
                        "clicks": sum(r.clicks or 0 for r in mine),
                        "hits": sum(r.hits or 0 for r in mine)}  # fmt: skip

        want = {"impressions": 4, "clicks": 1, "hits": expected_hits}
        wait_for(lambda: stored() == want, 60, "feedback rows")

        def metric(name: str) -> float:
            text = scrape(stack_config)
            return sum(v for _, v in samples(text, f"flink_taskmanager_job_task_operator_{name}"))

        def version_metric(name: str, version: str) -> float:
            text = scrape(stack_config)
            found = samples(
                text, f"flink_taskmanager_job_task_operator_feedback_model_version_{name}"
            )
            return sum(v for labels, v in found if labels.get("model_version") == version)

        try:
            wait_for(lambda: metric("feedback_clicks") >= 1 and metric("feedback_unmatched") >= 1,
                     60, "the feedback counters on the Prometheus endpoint")  # fmt: skip
            assert metric("feedback_impressions") == 4
            wait_for(lambda: metric("feedback_hits") >= expected_hits, 30, "the hit counter")
            assert metric("feedback_hits") == expected_hits
            # Per version too, as a label: CTR per model version is a PromQL ratio.
            assert version_metric("impressions", FALLBACK_VERSION) == 4
            assert version_metric("clicks", FALLBACK_VERSION) == 1
            assert version_metric("hits", FALLBACK_VERSION) == expected_hits
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
