"""Feedback per model version as Flink metrics: ``feedback.<model_version>.<name>``.

Each model version gets its own metric group the first time its feedback arrives (the
Prometheus reporter turns the key-value group into a ``model_version`` label), with
counters of impressions, clicks, adds and purchases and a gauge of the last window's CTR.
"""

from __future__ import annotations

import logging
from typing import Any

from streamrec.contracts.feedback import COUNT_FIELDS, FeedbackCounts

log = logging.getLogger(__name__)

MAX_VERSIONS = 100
"""Versions tracked at most: metric groups live as long as the job."""


class FeedbackMetrics:
    def __init__(self, group: Any) -> None:
        self._group = group
        self._counters: dict[str, dict[str, Any]] = {}
        self._last_ctr: dict[str, float] = {}

    def add(self, counts: FeedbackCounts) -> None:
        version = counts.model_version
        counters = self._counters.get(version)
        if counters is None:
            if len(self._counters) >= MAX_VERSIONS:
                return
            counters = self._register(version)
        for name in COUNT_FIELDS:
            counters[name].inc(getattr(counts, name))
        if counts.ctr is not None:
            self._last_ctr[version] = counts.ctr

    def _register(self, version: str) -> dict[str, Any]:
        group = self._group.add_group("model_version", version)
        counters = {name: group.counter(name) for name in COUNT_FIELDS}
        group.gauge("ctr", lambda: self._last_ctr.get(version, 0.0))
        self._counters[version] = counters
        return counters
