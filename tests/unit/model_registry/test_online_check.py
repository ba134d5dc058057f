"""The pure half of the online check: replay copies, feature parity, the report."""

from collections import Counter
from itertools import pairwise

import pytest

from streamrec.model_package.package import load_package
from streamrec.model_registry.evaluate import model_rankings
from streamrec.model_registry.online_check import (
    CheckCase,
    K,
    answerer,
    check_case,
    compare_online,
    feature_mismatches,
    online_id,
    replay_copies,
)
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.state.features import DEFAULT_HALF_LIFE_MS, default_spec

NOW_MS = 1_900_000_000_000


@pytest.fixture(scope="module")
def check(small_data: GeneratedData) -> CheckCase:
    return check_case(small_data.events, small_data.item_categories)


@pytest.fixture(scope="module")
def model(package_bytes: bytes):
    return load_package(package_bytes, default_spec())


def answers_as_offline(model, check: CheckCase, run: str) -> dict[str, dict]:
    """What a job without skew answers: the offline ranking at each user's last event."""
    users = check.case.eval_set.users
    ranked = model_rankings(model, check.case.eval_set.features, K)
    return {
        online_id(run, check.last_event[u]): {
            "model_version": model.version,
            "rules_version": None,
            "items": [{"item_id": i} for i in items],
        }
        for u, items in zip(users, ranked, strict=True)
    }


def compare(model, check: CheckCase, answers: dict[str, dict], unanswered: int = 0):
    """``answers`` for the scored events; every other replayed one answered by the model."""
    answerers = Counter(answerer(a) for a in answers.values())
    answerers[model.version] += len(check.past) - len(answers) - unanswered
    return compare_online(model, check, answers, "r1", answerers)


def test_copies_are_shifted_as_one_and_renamed(check: CheckCase) -> None:
    copies = replay_copies(check.past, "r1", NOW_MS)
    assert copies[-1].ts == NOW_MS
    gaps = [b.ts - a.ts for a, b in pairwise(check.past)]
    assert [b.ts - a.ts for a, b in pairwise(copies)] == gaps
    assert copies[0].user_id == f"r1-{check.past[0].user_id}"
    assert copies[0].event_id == f"r1-{check.past[0].event_id}"


def test_the_job_fold_of_the_copies_gives_the_offline_model_inputs(model, check) -> None:
    copies = replay_copies(check.past, "r1", NOW_MS)
    assert check.case.eval_set.users
    assert feature_mismatches(model, check, copies, "r1", DEFAULT_HALF_LIFE_MS) == []
    # A different half-life changes the decayed affinities: the check sees it.
    assert feature_mismatches(model, check, copies, "r1", DEFAULT_HALF_LIFE_MS // 7)


def test_answers_equal_to_offline_pass(model, check: CheckCase) -> None:
    report = compare(model, check, answers_as_offline(model, check, "r1"))
    assert report.users == len(check.case.eval_set.users)
    assert report.identical == report.users
    assert report.online_recall == report.offline_recall
    assert report.problems(min_users=10) == []


def test_fallback_answers_missing_users_and_a_gap_are_problems(model, check) -> None:
    answers = answers_as_offline(model, check, "r1")
    first, second, *_ = sorted(answers)
    answers[first] = {**answers[first], "model_version": "fallback:popularity", "items": []}
    del answers[second]
    report = compare(model, check, answers)
    problems = " ".join(report.problems())
    assert report.missing and "got no answer" in problems
    assert report.foreign == {"fallback:popularity": 1} and "fallback" in problems
    assert report.identical == report.users - 1
    assert report.unanswered == 0
    assert "3 replayed events got no answer" in " ".join(
        compare(model, check, answers, unanswered=3).problems()
    )

    wrong = {e: {**a, "items": list(reversed(a["items"]))[:1]} for e, a in answers.items()}
    gapped = compare(model, check, wrong)
    assert gapped.online_recall < gapped.offline_recall and "gap" in " ".join(gapped.problems())


def test_rules_count_as_another_answerer(model, check: CheckCase) -> None:
    answers = answers_as_offline(model, check, "r1")
    key = next(iter(answers))
    answers[key] = {**answers[key], "rules_version": "r3"}
    report = compare(model, check, answers)
    assert report.foreign == {f"{model.version} with rules r3": 1}
