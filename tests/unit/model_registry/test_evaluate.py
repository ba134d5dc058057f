import math

import pytest

from streamrec.contracts.event import Event
from streamrec.model_registry.baselines import popularity_rankings
from streamrec.model_registry.evaluate import build_eval_set, ranking_metrics
from streamrec.model_registry.train import TrainResult
from streamrec.state.features import UserFeatures


def test_recall_and_ndcg_by_hand() -> None:
    m = ranking_metrics([["a", "x", "b"]], [{"a", "b", "c", "d"}], ks=(2, 3))
    assert m["recall_at_2"] == pytest.approx(0.25)
    assert m["recall_at_3"] == pytest.approx(0.5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg_at_3"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_eval_set_drops_seen_items_and_cold_users() -> None:
    states = {"u1": UserFeatures(recent_items=("a",))}
    future = [
        Event("1", "u1", "a", "view", 5),
        Event("2", "u1", "b", "click", 6),
        Event("3", "u2", "c", "view", 6),
        Event("4", "u1", "d", "impression", 7),
    ]
    es = build_eval_set(states, future)
    assert es.users == ["u1"] and es.truth == [{"b"}]


def test_popularity_baseline_skips_seen() -> None:
    past = [Event(str(n), "u", item, "view", n) for n, item in enumerate("aaabbc")]
    assert popularity_rankings(past, [UserFeatures(recent_items=("a",))], 2) == [["b", "c"]]


def test_training_reports_all_metrics(trained: TrainResult) -> None:
    m = trained.metrics
    for prefix in ("", "pop_", "retrieval_"):
        for k in (10, 20, 100):
            assert 0.0 <= m[f"{prefix}ndcg_at_{k}"] <= 1.0
        assert (
            m[f"{prefix}recall_at_10"] <= m[f"{prefix}recall_at_20"] <= m[f"{prefix}recall_at_100"]
        )
    assert m["recall_at_20_lift"] == pytest.approx(m["recall_at_20"] / m["pop_recall_at_20"])
