"""Every kind of bad input in the corpus, sent to a running job at once: nothing stops it.

Checks the hardening contract end to end on the real stack: after the whole corpus (bad
events, tombstones on every topic, bad rules, bad packages, bad model references) the
job has not restarted, every bad event is in the DLQ with its reason, every bad control
record was counted as rejected, and a probe event is answered by the model that served
before, under the rules that served before.
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

from streamrec.jobs.kafka_records import TOMBSTONE_METRIC_PATH, source_operator
from streamrec.model_package.package import build_package
from streamrec.model_registry.train import TrainResult
from streamrec.ops.lifecycle import restart_count
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from tests.corpus import load_event_corpus, load_rules_corpus
from tests.corpus.packages import bad_packages
from tests.integration.job_harness import (
    EventProducer,
    JobTopics,
    RecommendationReader,
    TopicReader,
    now_ms,
    submit_job,
    wait_for,
)
from tests.integration.model_publishing import ModelPublisher

MODEL_NAME = "corpus-test-model"


@dataclass
class CorpusJob:
    config: StackConfig
    topics: JobTopics
    job_id: str
    events: EventProducer
    recs: RecommendationReader
    models: ModelPublisher

    def metric(self, operator: str, name: str) -> float:
        return flink_client.operator_metric(self.config, self.job_id, operator, name) or 0.0

    def tombstones(self, source: str) -> float:
        return self.metric(source_operator(source), TOMBSTONE_METRIC_PATH)

    def probe(self) -> dict:
        event_id = f"probe-{uuid.uuid4().hex[:10]}"
        self.events.send(
            [{"event_id": event_id, "user_id": f"probe-{event_id}", "item_id": "i1",
              "type": "view", "ts": now_ms()}]
        )  # fmt: skip
        return self.recs.wait_for_events({event_id})[event_id]


@pytest.fixture(scope="module")
def corpus_job(stack_config: StackConfig, small_training: TrainResult) -> Iterator[CorpusJob]:
    topics = JobTopics(f"bad_{uuid.uuid4().hex[:8]}")
    models = ModelPublisher(stack_config, topics.models)
    job_id = submit_job(stack_config, topics, models.job_args())
    recs = RecommendationReader(stack_config.kafka_bootstrap, topics.recommendations)
    job = CorpusJob(
        stack_config, topics, job_id,
        EventProducer(stack_config.kafka_bootstrap, topics.events), recs, models,
    )  # fmt: skip
    try:
        yield job
    finally:
        recs.close()
        flink_client.cancel_job(stack_config, job_id)


def test_no_bad_input_stops_the_job(corpus_job: CorpusJob, small_training: TrainResult) -> None:
    job = corpus_job
    result = small_training
    good = build_package(result.artifacts, MODEL_NAME, "1", result.metrics, created_ms=1)
    job.models.publish(good)
    wait_for(lambda: job.probe()["model_version"] == "1", 120, "model 1 serving")
    producer = Producer({"bootstrap.servers": job.config.kafka_bootstrap})
    producer.produce(job.topics.rules, key=b"default", value=b'{"version": "good-rules"}')
    producer.flush(30)
    wait_for(lambda: job.probe()["rules_version"] == "good-rules", 90, "rules serving")
    restarts_before = restart_count(job.config, job.job_id)
    models_rejected = job.metric("recommend", "modelsRejected")
    rules_rejected = job.metric("recommend", "rulesRejected")
    sources = ("events", "model-source", "rules-source")
    tombstones = {source: job.tombstones(source) for source in sources}

    # Everything bad at once, as a hostile or buggy producer would send it.
    marker = uuid.uuid4().hex[:8]
    events = load_event_corpus(now_ms(), marker=marker)
    job.events.send_raw([case.raw for case in events])
    for topic in (job.topics.events, job.topics.rules, job.topics.models):
        producer.produce(topic, key=b"tombstone", value=None)
    rules = load_rules_corpus()
    for case in rules:
        producer.produce(job.topics.rules, key=b"default", value=case.raw)
    producer.flush(30)
    packages = bad_packages(good)
    for case in packages:
        job.models.publish_raw_package(case.package, version=f"bad-{case.name}")
    references = job.models.bad_references(good)
    for raw in references:
        job.models.publish_raw_reference(raw)

    # Each bad event is a dead letter with its reason.
    expected = {case.raw: case.reason for case in events}
    by_digest = {hashlib.sha256(raw).hexdigest(): raw for raw in expected}
    dlq = TopicReader(job.config.kafka_bootstrap, job.topics.dlq)
    try:

        def reasons() -> dict[bytes, str]:
            out = {}
            for key, value in dlq.records:
                record = json.loads(value)
                original = base64.b64decode(record["original_base64"])
                if record.get("truncated"):
                    original = by_digest.get(record["original_sha256"], b"")
                if original in expected:
                    assert key is not None and key.decode() == record["reason"]
                    out[original] = record["reason"]
            return out

        dlq.until(lambda _: len(reasons()) == len(expected), 120, f"{len(expected)} dead letters")
        got = reasons()
        wrong = {
            case.name: (got[case.raw], case.reason)
            for case in events
            if got[case.raw] != case.reason
        }
        assert not wrong, f"dead-letter reasons (got, expected): {wrong}"
    finally:
        dlq.close()

    # Each bad control record is counted as rejected; nothing restarted the job.
    want_models = models_rejected + len(packages) + len(references)
    wait_for(
        lambda: job.metric("recommend", "modelsRejected") >= want_models,
        180,
        f"{len(packages) + len(references)} model rejections",
    )
    wait_for(
        lambda: job.metric("recommend", "rulesRejected") >= rules_rejected + len(rules),
        90,
        f"{len(rules)} rules rejections",
    )
    for source in sources:
        wait_for(
            lambda source=source: job.tombstones(source) == tombstones[source] + 1,
            60,
            f"the tombstone on {source} counted",
        )
    assert restart_count(job.config, job.job_id) == restarts_before
    assert flink_client.job_state(job.config, job.job_id) == "RUNNING"

    # What served before still serves.
    answer = job.probe()
    assert answer["model_version"] == "1"
    assert answer["rules_version"] == "good-rules"
    assert job.metric("recommend", "scoringErrors") == 0
