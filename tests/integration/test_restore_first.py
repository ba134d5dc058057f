"""After a restore, the job serves what its state holds before it looks at a new record.

Each step stops the job with a savepoint, puts one control record on a topic while it is
stopped, and resumes it: that record is then the first thing the restored job sees. Before
the fix, a rules message or a model chunk arriving first marked the serving state restored
without loading it, and the job answered ``fallback:popularity``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Producer

from streamrec.model_package.package import build_package
from streamrec.model_registry.train import TrainResult
from streamrec.ops.deployments import Deployment
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from tests.integration.job_harness import EventProducer, now_ms, wait_for
from tests.integration.ops_harness import OperatedJob, operated_job, streamrec_job

MODEL = "restore-test-model"


@pytest.fixture(scope="module")
def package(small_training: TrainResult) -> bytes:
    result = small_training
    return build_package(result.artifacts, MODEL, "1", result.metrics, created_ms=1)


def probe(job: OperatedJob) -> dict:
    event_id = f"probe-{uuid.uuid4().hex[:10]}"
    EventProducer(job.config.kafka_bootstrap, job.topics.events).send(
        [{"event_id": event_id, "user_id": f"{job.name}-probe", "item_id": "i1",
          "type": "view", "ts": now_ms()}]
    )  # fmt: skip
    return job.recs.wait_for_events({event_id})[event_id]


def produce(job: OperatedJob, topic: str, key: bytes, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": job.config.kafka_bootstrap})
    producer.produce(topic, key=key, value=value)
    producer.flush(30)


def wait_rejected_once(job: OperatedJob, what: str) -> None:
    """Until the resumed job (its counters start at 0) has rejected one model record."""
    wait_for(
        lambda: flink_client.operator_metric(
            job.config, job.job_id(), "recommend", "modelsRejected"
        ) == 1,
        90,
        f"{what} rejected",
    )  # fmt: skip


def stop_put_resume(job: OperatedJob, put: Callable[[], None]) -> None:
    """Stop with a savepoint, ``put`` a record while stopped, resume from the savepoint."""
    output = streamrec_job(job.config, "stop", "--name", job.name)
    found = re.search(r"--from-savepoint (\S+)", output)
    assert found, output
    put()
    record = Deployment.load(job.config, job.name)
    assert record is not None
    streamrec_job(
        job.config, "deploy", "--name", job.name, "--from-savepoint", found.group(1),
        "--", *record.job_args,
    )  # fmt: skip


def test_state_is_served_before_the_first_new_broadcast_record(
    stack_config: StackConfig, package: bytes
) -> None:
    with operated_job(stack_config, package, parallelism=1) as job:
        rules = job.topics.rules
        produce(job, rules, b"default", b'{"version": "r1"}')
        wait_for(lambda: probe(job)["rules_version"] == "r1", 90, "rules r1 serving")

        # Rules first: the restored model serves under the new rules.
        stop_put_resume(job, lambda: produce(job, rules, b"default", b'{"version": "r2"}'))
        answer = probe(job)
        assert answer["model_version"] == "1", answer
        wait_for(lambda: probe(job)["rules_version"] == "r2", 90, "rules r2 serving")

        # A model reference first, and a bad one: rejected; model 1 and r2 still serve.
        stop_put_resume(job, lambda: produce(job, job.topics.models, MODEL.encode(), b"{}"))
        wait_rejected_once(job, "the bad reference")
        answer = probe(job)
        assert (answer["model_version"], answer["rules_version"]) == ("1", "r2"), answer

        # A stray chunk of the old inline format first: rejected the same way.
        stray = b"SRPC\x00\x00\x00\x02{}"  # the old chunk's magic and an empty header
        stop_put_resume(job, lambda: produce(job, job.topics.models, MODEL.encode(), stray))
        wait_rejected_once(job, "the stray chunk")
        answer = probe(job)
        assert (answer["model_version"], answer["rules_version"]) == ("1", "r2"), answer
