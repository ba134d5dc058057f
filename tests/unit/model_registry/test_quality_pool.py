"""Pooling the rolling protocol's origins into one report."""

import pytest

from streamrec.model_registry.quality import ProtocolReport, pool


def _report(users: int, model: float, popularity: float, train_s: float) -> ProtocolReport:
    table = {
        "model": {"recall_at_20": model, "ndcg_at_20": model / 2},
        "popularity": {"recall_at_20": popularity, "ndcg_at_20": popularity / 2},
    }
    return ProtocolReport("temporal", users, users * 10, users * 100, table, train_s, 7)


def test_pooled_metrics_average_over_every_evaluated_user_of_every_origin() -> None:
    newest, older = _report(10, 0.30, 0.10, 2.0), _report(30, 0.10, 0.10, 1.0)
    pooled = pool([newest, older])
    assert pooled.protocol == "rolling_2"
    assert (pooled.users, pooled.interactions) == (40, 400)
    assert pooled.table["model"]["recall_at_20"] == pytest.approx((10 * 0.30 + 30 * 0.10) / 40)
    assert pooled.table["popularity"]["ndcg_at_20"] == pytest.approx(0.05)
    # The model facts are the newest origin's; training time is the sum.
    assert (pooled.train_events, pooled.train_s) == (1000, 3.0)
    metrics = pooled.metrics()
    assert metrics["origin1_eval_users"] == 30.0
    assert metrics["origin0_model_recall_at_20"] == 0.30
    assert metrics["recall_at_20"] == pytest.approx(0.15)


def test_nothing_to_pool_is_an_error() -> None:
    with pytest.raises(ValueError):
        pool([])
