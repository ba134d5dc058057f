"""The feedback record and the per-version metrics built from it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamrec.contracts.feedback import (
    FeedbackCounts,
    HitRate,
    InvalidFeedbackError,
    parse_feedback,
)
from streamrec.udfs.feedback_metrics import MAX_VERSION_GROUPS, FeedbackMetrics


def record(**overrides: object) -> bytes:
    doc = {"model_version": "7", "rules_version": "none", "strategy": "model",
           "window_start": 60_000, "window_end": 120_000, "impressions": 8, "clicks": 2,
           "adds": 1, "purchases": 0, "ctr": 0.25, **overrides}  # fmt: skip
    return json.dumps(doc).encode()


def hit_record(**overrides: object) -> bytes:
    doc = {"model_version": "7", "rules_version": "none", "strategy": "model",
           "window_start": 60_000, "window_end": 120_000, "recommendations": 40, "hits": 10,
           "hit_k": 10, "hit_rate": 0.25, **overrides}  # fmt: skip
    return json.dumps(doc).encode()


def test_a_hit_rate_record_reads_back_as_its_own_kind() -> None:
    hits = parse_feedback(hit_record())
    assert isinstance(hits, HitRate)
    assert (hits.recommendations, hits.hits, hits.hit_k, hits.hit_rate) == (40, 10, 10, 0.25)
    assert isinstance(parse_feedback(record()), FeedbackCounts)


def test_a_record_reads_back_with_its_ctr() -> None:
    counts = parse_feedback(record())
    assert (counts.model_version, counts.impressions, counts.clicks) == ("7", 8, 2)
    assert counts.ctr == 0.25
    assert parse_feedback(record(impressions=0, clicks=1, ctr=None)).ctr is None


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", record(model_version=""), record(clicks=-1), record(adds=1.5),
     record(window_end=True), b"x" * 5000, hit_record(hits=41), hit_record(hit_k=None),
     hit_record(recommendations="40")],
)  # fmt: skip
def test_bad_records_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidFeedbackError):
        parse_feedback(raw)


class FakeCounter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n


class FakeGroup:
    def __init__(self) -> None:
        self.children: dict[tuple[str, ...], FakeGroup] = {}
        self.counters: dict[str, FakeCounter] = {}
        self.gauges: dict[str, Any] = {}

    def add_group(self, *names: str) -> FakeGroup:
        return self.children.setdefault(names, FakeGroup())

    def counter(self, name: str) -> FakeCounter:
        return self.counters.setdefault(name, FakeCounter())

    def gauge(self, name: str, fn: Any) -> None:
        self.gauges[name] = fn


def test_metrics_sum_matched_feedback_and_give_the_serving_versions_ctr() -> None:
    root = FakeGroup()
    serving = ["7"]
    metrics = FeedbackMetrics(root, lambda: serving[0])
    metrics.add(parse_feedback(record()))
    metrics.add(parse_feedback(record(window_start=120_000, window_end=180_000, clicks=4)))
    metrics.add(parse_feedback(record(model_version="8", impressions=10, clicks=1)))
    metrics.add(parse_feedback(record(model_version="unmatched", impressions=3, clicks=1)))
    assert root.counters["impressions"].count == 26
    assert root.counters["clicks"].count == 7
    assert root.counters["unmatched"].count == 4
    per_version = root.children[("model_version", "7")].counters
    assert (per_version["impressions"].count, per_version["clicks"].count) == (16, 6)
    assert root.children[("model_version", "8")].counters["clicks"].count == 1
    assert ("model_version", "unmatched") not in root.children
    assert root.gauges["servingCtrPpm"]() == 500_000  # version 7's last window
    serving[0] = "8"
    assert root.gauges["servingCtrPpm"]() == 100_000
    serving[0] = "9"
    assert root.gauges["servingCtrPpm"]() == 0
    assert all(isinstance(g(), int) for g in root.gauges.values())


def test_metrics_sum_hit_rates_and_give_the_serving_versions_rate() -> None:
    root = FakeGroup()
    metrics = FeedbackMetrics(root, lambda: "7")
    metrics.add(parse_feedback(hit_record()))
    metrics.add(parse_feedback(hit_record(model_version="8", recommendations=10, hits=1)))
    assert root.counters["recommendations"].count == 50
    assert root.counters["hits"].count == 11
    assert root.counters["impressions"].count == 0
    assert root.gauges["servingHitRatePpm"]() == 250_000
    assert root.children[("model_version", "8")].counters["hits"].count == 1


def test_per_version_groups_are_bounded() -> None:
    root = FakeGroup()
    metrics = FeedbackMetrics(root, lambda: "0")
    for version in range(MAX_VERSION_GROUPS + 5):
        metrics.add(parse_feedback(record(model_version=str(version))))
    assert len(root.children) == MAX_VERSION_GROUPS
    assert root.counters["impressions"].count == 8 * (MAX_VERSION_GROUPS + 5)
