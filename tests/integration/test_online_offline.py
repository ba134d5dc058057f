"""Online equals offline on a real log (issue 14, item 4): the training/serving skew guard.

The model is trained on the Online Retail slice's past and published on the job's models
topic; the past is replayed through the running job, and Recall@20 of the job's answers
at each evaluated user's last past event must be within 5% of the offline figure for the
same users (``streamrec model online-check`` runs the same on a whole log).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from streamrec.contracts.event import Event
from streamrec.datasets.catalog import load_log
from streamrec.model_package.package import build_package, load_package
from streamrec.model_registry.online_check import TOLERANCE, check_case
from streamrec.model_registry.online_replay import CheckTopics, run_check
from streamrec.model_registry.train import TrainConfig, fit
from streamrec.stack import flink_client
from streamrec.stack.config import StackConfig
from streamrec.state.features import default_spec
from tests.integration.job_harness import JobTopics, submit_job
from tests.integration.model_publishing import ModelPublisher

log = logging.getLogger(__name__)

SLICE_DIR = Path(__file__).parents[1] / "data" / "online-retail"
# Small settings: the check is about serving what was trained, not about its quality.
TRAIN = TrainConfig(epochs=2, embedding_dim=32, use_ranker=False)
# The slice has 79 evaluated users; fewer answered would make the recall too coarse.
MIN_USERS = 70


@pytest.fixture(scope="module")
def retail_slice() -> tuple[list[Event], dict[str, str]]:
    if not (SLICE_DIR / "online-retail-slice.csv").is_file():
        pytest.skip(f"the Online Retail slice is not in {SLICE_DIR} (see its README.md)")
    return load_log("online-retail-slice", SLICE_DIR)


def test_online_recall_equals_offline_on_a_real_log(
    stack_config: StackConfig,
    retail_slice: tuple[list[Event], dict[str, str]],
    unique_name: str,
) -> None:
    events, categories = retail_slice
    check = check_case(events, categories, TRAIN.future_fraction, TRAIN.half_life_ms)
    fitted = fit(check.past, categories, TRAIN)
    package = build_package(fitted.artifacts, unique_name, "1", {}, created_ms=1)
    model = load_package(package, default_spec(TRAIN.half_life_ms))

    topics = JobTopics(unique_name)
    job_id = submit_job(stack_config, topics)
    try:
        report = run_check(
            model,
            check,
            CheckTopics(stack_config.kafka_bootstrap, topics.events, topics.recommendations),
            lambda: ModelPublisher(stack_config, topics.models).publish(package),
            half_life_ms=TRAIN.half_life_ms,
            progress=log.info,
        )
    finally:
        flink_client.cancel_job(stack_config, job_id)

    log.info("online check: %s", report.summary())
    assert report.feature_mismatches == [], "the job folds other features than training"
    assert report.problems(TOLERANCE, MIN_USERS) == []
