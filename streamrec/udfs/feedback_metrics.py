"""Feedback as Flink metrics: ``feedback.<name>`` counters, per version and summed.

Summed over versions, registered in ``open``: ``impressions``, ``clicks``, ``adds``,
``purchases``, ``recommendations`` and ``hits``; ``unmatched`` counts impressions and clicks
that named no recommendation; ``servingCtrPpm`` and ``servingHitRatePpm`` are the last
window's CTR and hit rate@k (jobs.hit_rate_sql) of the version now serving, per million.

Per version, the same counters under a ``model_version`` key-value group (a Prometheus
label), registered on the version's first record: CTR per version is then a PromQL ratio of
two counters. At most ``MAX_VERSION_GROUPS`` versions get one, so a stream of versions
cannot grow the TaskManager's metrics without bound; the feedback topic and Cassandra's
feedback_by_version keep every version. Gauges stay ints: a thread-mode gauge that returned
a float made the TaskManager's Prometheus endpoint close every scrape (measured).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrec.contracts.feedback import COUNT_FIELDS, HIT_FIELDS, FeedbackRecord, HitRate

UNMATCHED = "unmatched"
MAX_VERSION_GROUPS = 50
VERSION_COUNTERS = (*COUNT_FIELDS, *HIT_FIELDS[:2])


class FeedbackMetrics:
    def __init__(self, group: Any, serving_version: Callable[[], str]) -> None:
        self._group = group
        self._totals = {name: group.counter(name) for name in VERSION_COUNTERS}
        self._unmatched = group.counter("unmatched")
        self._per_version: dict[str, dict[str, Any]] = {}
        self._serving_version = serving_version
        self._last_ctr: dict[str, float] = {}
        self._last_hit_rate: dict[str, float] = {}
        group.gauge("servingCtrPpm", self.serving_ctr_ppm)
        group.gauge("servingHitRatePpm", self.serving_hit_rate_ppm)

    def add(self, record: FeedbackRecord) -> None:
        if record.model_version == UNMATCHED:
            if not isinstance(record, HitRate):
                self._unmatched.inc(record.impressions + record.clicks)
            return
        if isinstance(record, HitRate):
            names: tuple[str, ...] = HIT_FIELDS[:2]
            if record.hit_rate is not None:
                self._last_hit_rate[record.model_version] = record.hit_rate
        else:
            names = COUNT_FIELDS
            if record.ctr is not None:
                self._last_ctr[record.model_version] = record.ctr
        version = self._version_counters(record.model_version)
        for name in names:
            self._totals[name].inc(getattr(record, name))
            if version is not None:
                version[name].inc(getattr(record, name))

    def _version_counters(self, version: str) -> dict[str, Any] | None:
        found = self._per_version.get(version)
        if found is None and len(self._per_version) < MAX_VERSION_GROUPS:
            group = self._group.add_group("model_version", version)
            found = {name: group.counter(name) for name in VERSION_COUNTERS}
            self._per_version[version] = found
        return found

    def serving_ctr_ppm(self) -> int:
        """The last window's CTR of the version serving now, in parts per million (0
        before any feedback)."""
        return round(self._last_ctr.get(self._serving_version(), 0.0) * 1_000_000)

    def serving_hit_rate_ppm(self) -> int:
        """The last window's hit rate@k of the version serving now, per million."""
        return round(self._last_hit_rate.get(self._serving_version(), 0.0) * 1_000_000)
