"""Pooling the rolling protocol's origins into one report."""

import pytest

from streamrec.contracts.event import Event
from streamrec.model_registry import quality
from streamrec.model_registry.evaluate import EvalSet
from streamrec.model_registry.protocols import EvalCase
from streamrec.model_registry.quality import ProtocolReport, pool
from streamrec.model_registry.train import TrainConfig


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


def _case(users: list[str]) -> EvalCase:
    events = [Event("e", "u", "i", "view", 5)]
    return EvalCase(
        "temporal", events, EvalSet(users, [None] * len(users), [set()] * len(users)), 0
    )


def test_rolling_skips_origins_without_users_and_reuses_the_temporal_report(monkeypatch) -> None:
    measured: list[EvalCase] = []

    def fake_measure(case, _categories, _config):
        measured.append(case)
        return _report(len(case.eval_set.users), 0.2, 0.1, 1.0)

    monkeypatch.setattr(quality, "measure", fake_measure)
    cases = [_case(["a", "b"]), _case([]), _case(["c"])]
    told: list[tuple[int, int | None]] = []
    newest = _report(2, 0.4, 0.1, 5.0)
    pooled = quality.measure_rolling(
        cases, {}, TrainConfig(), newest, lambda k, _c, r: told.append((k, r and r.users))
    )
    assert measured == [cases[2]]  # origin 0 reused, origin 1 has nobody
    assert told == [(0, 2), (1, None), (2, 1)]
    assert pooled.protocol == "rolling_2" and pooled.users == 3
    assert pooled.table["model"]["recall_at_20"] == pytest.approx((2 * 0.4 + 0.2) / 3)


def test_rolling_with_nobody_anywhere_reports_origin_zero(monkeypatch) -> None:
    monkeypatch.setattr(quality, "measure", lambda case, *_: _report(0, 0.0, 0.0, 1.0))
    pooled = quality.measure_rolling([_case([]), _case([])], {}, TrainConfig())
    assert (pooled.protocol, pooled.users) == ("rolling_1", 0)
