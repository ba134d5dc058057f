"""The closed loop on the real stack: simulated users read the job's lists and respond.

The same users live through three phases on one running job: the popularity fallback, a
trained model, and that model with its item ids shuffled. The trained model's CTR must be
clearly above the fallback's (95% Wilson intervals apart) and the broken model's clearly
below the trained one's, and the job's own feedback records must count exactly the lists
and clicks the users produced for each finished version.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest

from streamrec.model_package.package import build_package
from streamrec.model_registry.synthetic import generate, latent_world
from streamrec.model_registry.train import train
from streamrec.scoring.popularity import FALLBACK_VERSION
from streamrec.simulation import experiment
from streamrec.simulation.click_model import ClickModel
from streamrec.simulation.closed_loop import ClosedLoop, LoopSettings
from streamrec.simulation.ctr import describe, from_feedback
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from tests.integration.job_harness import JobTopics, TopicReader, submit_job, wait_for
from tests.integration.model_publishing import ModelPublisher
from tests.unit.conftest import SMALL_TRAIN, SMALL_WORLD

MODEL_NAME = "closed-loop"
PHASE_S = 45.0


@pytest.fixture(scope="module")
def packages() -> dict[str, bytes]:
    # No ranker: the small session model's one-epoch ranker ranks obscure items first.
    data = generate(SMALL_WORLD)
    config = dataclasses.replace(SMALL_TRAIN, use_ranker=False, epochs=3)
    result = train(data.events, data.item_categories, config)
    broken = experiment.misaligned(result.artifacts, seed=1)
    return {
        "1": build_package(result.artifacts, MODEL_NAME, "1", result.metrics, created_ms=1),
        "2": build_package(broken, MODEL_NAME, "2", result.metrics, created_ms=2),
    }


@pytest.fixture
def loop_job(stack_config: StackConfig) -> Iterator[JobTopics]:
    topics = JobTopics(f"loop_{uuid.uuid4().hex[:8]}")
    job_id = submit_job(
        stack_config,
        topics,
        [
            "--feedback-horizon-ms", "10000",
            "--feedback-window-ms", "5000",
            "--feedback-lateness-ms", "1000",
            "--trending-lateness-ms", "1000",
            "--idleness-ms", "2000",
        ],
    )  # fmt: skip
    try:
        yield topics
    finally:
        flink_client.cancel_job(stack_config, job_id)


def test_the_trained_model_earns_more_clicks_than_popularity_and_a_broken_model(
    stack_config: StackConfig, loop_job: JobTopics, packages: dict[str, bytes]
) -> None:
    topics = loop_job
    publisher = ModelPublisher(stack_config, topics.models)

    def publish(version: str) -> str:
        publisher.publish(packages[version])
        return version

    users = ClickModel(latent_world(SMALL_WORLD), n_users=20, seed=5)
    loop = ClosedLoop(stack_config.kafka_bootstrap, topics.events, topics.recommendations,
                      users, LoopSettings(think_ms=300))  # fmt: skip
    feedback = TopicReader(stack_config.kafka_bootstrap, topics.feedback)
    try:
        outcome = experiment.run(loop, experiment.comparison(PHASE_S, publish))
        totals = loop.tally.by_version()
        for version, rate in totals.items():
            print(describe(version, rate))
        fallback, trained, broken = (totals[v] for v in (FALLBACK_VERSION, "1", "2"))
        assert loop.tally.unanswered == 0
        assert trained.clearly_above(fallback), (describe("1", trained), describe("fb", fallback))
        assert trained.clearly_above(broken), (describe("1", trained), describe("2", broken))
        assert outcome.separated_after_s is not None, "the broken model never stood apart"

        # The job's feedback join counted the same lists and clicks per finished version
        # (version 2 still serves: its windows are still open).
        finished = (FALLBACK_VERSION, "1")

        def counted() -> bool:
            loop.run(1.0)  # keep event time moving so the last windows close
            feedback.drain(0.5)
            seen, mine = from_feedback(v for _, v in feedback.records), loop.tally.by_version()
            return all(v in seen and seen[v].shown >= mine[v].shown for v in finished)

        wait_for(counted, 90, "feedback for the fallback and the trained model")
        feedback.drain(2.0)
        seen, mine = from_feedback(v for _, v in feedback.records), loop.tally.by_version()
        for version in finished:
            got, sent = seen[version], mine[version]
            assert (got.shown, got.clicked) == (sent.shown, sent.clicked), version
    finally:
        loop.close()
        feedback.close()
