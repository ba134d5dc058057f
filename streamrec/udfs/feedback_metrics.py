"""Feedback as Flink metrics: ``feedback.<name>`` counters and the serving version's CTR.

Registered in ``open``, summed over versions: ``unmatched`` counts impressions and clicks
that named no recommendation, ``servingCtrPpm`` is the last window's CTR of the version
now serving, per million, and ``recommendations``/``hits`` and ``servingHitRatePpm`` the
same for hit rate@k (jobs.hit_rate_sql). The per-version split is on the feedback topic and in
Cassandra's feedback_by_version. A first version added a ``model_version`` group per
version on its first feedback, with a float CTR gauge; the TaskManager's Prometheus
endpoint then closed every scrape without a response. With the gauge an int it serves
again (tests/integration/test_feedback.py); whether groups added after ``open`` are
exported was not established.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamrec.contracts.feedback import COUNT_FIELDS, FeedbackRecord, HitRate

UNMATCHED = "unmatched"


class FeedbackMetrics:
    def __init__(self, group: Any, serving_version: Callable[[], str]) -> None:
        self._counters = {name: group.counter(name) for name in COUNT_FIELDS}
        self._unmatched = group.counter("unmatched")
        self._recommendations = group.counter("recommendations")
        self._hits = group.counter("hits")
        self._serving_version = serving_version
        self._last_ctr: dict[str, float] = {}
        self._last_hit_rate: dict[str, float] = {}
        # Ints: a thread-mode gauge that returns a float breaks the TaskManager's whole
        # Prometheus endpoint (it closed every scrape without a response, measured).
        group.gauge("servingCtrPpm", self.serving_ctr_ppm)
        group.gauge("servingHitRatePpm", self.serving_hit_rate_ppm)

    def add(self, counts: FeedbackRecord) -> None:
        if isinstance(counts, HitRate):
            self._recommendations.inc(counts.recommendations)
            self._hits.inc(counts.hits)
            if counts.hit_rate is not None:
                self._last_hit_rate[counts.model_version] = counts.hit_rate
            return
        if counts.model_version == UNMATCHED:
            self._unmatched.inc(counts.impressions + counts.clicks)
            return
        for name in COUNT_FIELDS:
            self._counters[name].inc(getattr(counts, name))
        if counts.ctr is not None:
            self._last_ctr[counts.model_version] = counts.ctr

    def serving_ctr_ppm(self) -> int:
        """The last window's CTR of the version serving now, in parts per million (0
        before any feedback)."""
        return round(self._last_ctr.get(self._serving_version(), 0.0) * 1_000_000)

    def serving_hit_rate_ppm(self) -> int:
        """The last window's hit rate@k of the version serving now, per million."""
        return round(self._last_hit_rate.get(self._serving_version(), 0.0) * 1_000_000)
