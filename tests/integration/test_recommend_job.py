"""The streaming job on the real stack: one recommendation per valid event (read_committed),
agreeing with offline scoring; bad events in the DLQ with their reason; Cassandra holding each
user's latest answer; models and rules swapped while the job runs; bad ones rejected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Producer

from streamrec.contracts.event import MAX_EVENT_BYTES, Event
from streamrec.model_package.package import LoadedModel, build_package, load_package
from streamrec.model_registry.publisher import reference_for
from streamrec.model_registry.synthetic import generate
from streamrec.model_registry.train import TrainResult
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.scoring.warm import category_lookup
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.stack.cql_client import connect
from streamrec.state.features import UserFeatures, default_spec, update
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    TopicReader,
    now_ms,
    retimed,
    submit_job,
    wait_for,
)
from tests.integration.model_publishing import ModelPublisher
from tests.unit.conftest import SMALL_WORLD

MODEL_NAME = "job-test-model"


@dataclass
class RunningJob:
    config: StackConfig
    topics: JobTopics
    job_id: str
    events: EventProducer
    recs: RecommendationReader
    packages: dict[str, bytes]

    def metric(self, name: str) -> float:
        return flink_client.operator_metric(self.config, self.job_id, "recommend", name) or 0.0

    def probe(self, user: str) -> dict:
        """Send one valid event for ``user`` and return its recommendation."""
        event_id = f"probe-{uuid.uuid4().hex[:10]}"
        self.events.send(
            [{"event_id": event_id, "user_id": user, "item_id": "i1", "type": "view",
              "ts": now_ms()}]
        )  # fmt: skip
        return self.recs.wait_for_events({event_id})[event_id]

    def publish(self, version: str) -> None:
        ModelPublisher(self.config, self.topics.models).publish(self.packages[version])


@pytest.fixture(scope="module")
def packages(small_training: TrainResult) -> dict[str, bytes]:
    result = small_training
    return {
        version: build_package(result.artifacts, MODEL_NAME, version, result.metrics, created_ms=1)
        for version in ("1", "2", "3")
    }


@pytest.fixture(scope="module")
def job(stack_config: StackConfig, packages: dict[str, bytes]) -> Iterator[RunningJob]:
    topics = JobTopics(f"job_{uuid.uuid4().hex[:8]}")
    job_id = submit_job(stack_config, topics)
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    running = RunningJob(
        stack_config, topics, job_id,
        EventProducer(stack_config.kafka_bootstrap, topics.events), recs, packages,
    )  # fmt: skip
    try:
        yield running
    finally:
        recs.close()
        flink_client.cancel_job(stack_config, job_id)


def offline_recommendations(
    model: LoadedModel, events: list[dict], config: ScoringConfig
) -> dict[str, list[str]]:
    """Per event id, the item ids the offline path gives on the features after that event."""
    lookup = category_lookup(model)
    features: dict[str, UserFeatures] = {}
    out: dict[str, list[str]] = {}
    for raw in events:
        event = Event.from_dict(raw)
        state = update(features.get(event.user_id, UserFeatures()), event, lookup)
        features[event.user_id] = state
        [items] = score_batch(model, [state], config).recommendations
        out[event.event_id] = [i.item_id for i in items]
    return out


def test_job_serves_models_and_rules_as_data(job: RunningJob) -> None:
    run = uuid.uuid4().hex[:6]
    # Before any model: the popularity fallback, and it says so.
    first = job.probe(f"{run}-cold")
    assert first["model_version"] == "fallback:popularity"

    # A model arrives on the models topic; the running job swaps it in.
    job.publish("1")
    wait_for(lambda: job.probe(f"{run}-warm")["model_version"] == "1", 120, "model 1 serving")

    # Every valid event: exactly one recommendation, as the offline path scores it.
    world = generate(SMALL_WORLD)
    # 1 ms apart and all in the past, so that emitted_ts >= event_ts must hold for each.
    events = retimed(iter(world.events[:300]), f"{run}-b", now_ms() - 300)
    job.events.send(events)
    got = job.recs.wait_for_events({e["event_id"] for e in events})
    model = load_package(job.packages["1"], default_spec())
    expected = offline_recommendations(model, events, ScoringConfig())
    mismatched = [e for e in expected if [i["item_id"] for i in got[e]["items"]] != expected[e]]
    assert not mismatched, f"{len(mismatched)} of {len(expected)} differ from offline scoring"
    assert {r["model_version"] for r in got.values()} == {"1"}
    assert all(r["emitted_ts"] >= r["event_ts"] for r in got.values())

    # Cassandra holds each user's latest recommendation.
    latest: dict[str, dict] = {}
    for event in events:
        latest[event["user_id"]] = event
    with connect("127.0.0.1", job.config.cassandra_port, job.config.keyspace) as session:
        for user, event in latest.items():
            row = session.execute(
                "SELECT event_id, model_version, ranked AS items FROM recs_by_user "
                "WHERE user_id = %s",
                (user,),
            ).one()
            assert row is not None, f"no recs_by_user row for {user}"
            assert row.event_id == event["event_id"]
            assert row.model_version == "1"
            assert [i.item_id for i in row.items] == expected[event["event_id"]]

    # A second version switches model_version in later outputs, with no restart.
    job.publish("2")
    wait_for(lambda: job.probe(f"{run}-warm")["model_version"] == "2", 120, "model 2 serving")

    # A corrupt package (stored and correctly signed) and an unsigned reference are
    # rejected; version 2 keeps serving.
    rejected_before = job.metric("modelsRejected")
    models = ModelPublisher(job.config, job.topics.models)
    package = job.packages["3"]
    models.publish_raw_package(package[:-200] + bytes(200), version="3", model_name=MODEL_NAME)
    unsigned = reference_for(package, models.store.put(package), MODEL_NAME, "3")
    models.publish_raw_reference(unsigned.to_bytes(), MODEL_NAME)
    wait_for(lambda: job.metric("modelsRejected") >= rejected_before + 2, 90, "rejections")
    assert job.probe(f"{run}-warm")["model_version"] == "2"
    producer = Producer({"bootstrap.servers": job.config.kafka_bootstrap})

    # Rules: a bad rule set is rejected; a good one changes the next outputs.
    user = f"{run}-ruled"
    top_item = job.probe(user)["items"][0]["item_id"]
    producer.produce(
        job.topics.rules, key=b"default", value=b'{"version": "r0", "exclude_item": []}'
    )
    producer.flush(30)
    wait_for(lambda: job.metric("rulesRejected") >= 1, 90, "rules rejection")
    rules = {"version": "r1", "exclude_items": [top_item]}
    producer.produce(job.topics.rules, key=b"default", value=json.dumps(rules).encode())
    producer.flush(30)
    ruled = wait_for(
        lambda: (r := job.probe(user))["rules_version"] == "r1" and r, 90, "rules r1 serving"
    )
    assert top_item not in [i["item_id"] for i in ruled["items"]]
    assert ruled["model_version"] == "2"


def test_bad_events_go_to_the_dlq_with_their_reason(job: RunningJob) -> None:
    now = now_ms()
    marker = uuid.uuid4().hex[:8]

    def event(**overrides: object) -> bytes:
        base = {"event_id": f"{marker}-e", "user_id": f"{marker}-u", "item_id": "i1",
                "type": "click", "ts": now}  # fmt: skip
        base.update(overrides)
        return json.dumps({k: v for k, v in base.items() if v is not None}).encode()

    bad = {
        b"{not json " + marker.encode(): "bad_json",
        b"\xff\xfe" + marker.encode(): "bad_unicode",
        event(user_id=None, event_id=f"{marker}-1"): "missing_field",
        event(ts="yesterday", event_id=f"{marker}-2"): "wrong_type",
        event(type="teleport", event_id=f"{marker}-3"): "unknown_type",
        event(ts=now + 3 * 86_400_000, event_id=f"{marker}-4"): "future_ts",
        event(ts=now - 400 * 86_400_000, event_id=f"{marker}-5"): "past_ts",
        event(event_id=f"{marker}-6", pad="x" * MAX_EVENT_BYTES): "oversized",
        event(event_id=""): "bad_value",
        b'[1, 2, "' + marker.encode() + b'"]': "wrong_type",
    }
    job.events.send_raw(list(bad))
    by_digest = {hashlib.sha256(raw).hexdigest(): raw for raw in bad}
    dlq = TopicReader(job.config.kafka_bootstrap, job.topics.dlq)
    try:

        def found() -> dict[bytes, tuple[str, str]]:
            out = {}
            for key, value in dlq.records:
                record = json.loads(value)
                original = base64.b64decode(record["original_base64"])
                if record.get("truncated"):  # cut to what the DLQ can carry; whole digest kept
                    original = by_digest.get(record["original_sha256"], original)
                if original in bad:
                    assert key is not None and key.decode() == record["reason"]
                    out[original] = (record["reason"], record["detail"])
            return out

        dlq.until(lambda _: len(found()) == len(bad), 90, f"{len(bad)} dead letters")
        reasons = {raw: reason for raw, (reason, _) in found().items()}
        assert reasons == bad
    finally:
        dlq.close()
    # The job kept going: a valid event after the bad ones is still answered.
    assert job.probe(f"{marker}-after")["event_id"].startswith("probe-")


def test_at_least_once_delivery_is_readable_before_a_checkpoint(
    stack_config: StackConfig,
) -> None:
    """--delivery at-least-once: no transactions, so results need no checkpoint to show."""
    topics = JobTopics(f"alo_{uuid.uuid4().hex[:8]}")
    # A checkpoint interval far beyond the wait below: only non-transactional output fits.
    job_id = submit_job(
        stack_config,
        topics,
        ["--delivery", "at-least-once", "--checkpoint-interval-ms", "600000"],
    )
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    try:
        events = [
            {"event_id": f"{topics.prefix}-{n}", "user_id": f"u{n % 3}", "item_id": "i1",
             "type": "view", "ts": now_ms()}
            for n in range(10)
        ]  # fmt: skip
        EventProducer(stack_config.kafka_bootstrap, topics.events).send(events)
        got = recs.wait_for_events({e["event_id"] for e in events}, timeout_s=60)
        assert {r["model_version"] for r in got.values()} == {"fallback:popularity"}
    finally:
        recs.close()
        flink_client.cancel_job(stack_config, job_id)
