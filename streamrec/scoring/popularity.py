"""The cold-start answer: most popular items, served until the first model arrives.

Counts are per scoring subtask and kept in memory only: a restarted subtask starts
counting again. That is enough for the minutes before a model is published; outputs
say ``model_version = "fallback:popularity"`` so nobody mistakes them for a model's.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from streamrec.contracts.event import Event
from streamrec.contracts.scored_item import ScoredItem
from streamrec.state.features import EVENT_WEIGHTS, RECENT_ITEMS_CAP, UserFeatures

FALLBACK_VERSION = "fallback:popularity"


class PopularityFallback:
    """Event-weighted interaction counts per item."""

    def __init__(self) -> None:
        self._counts: dict[str, float] = {}

    def observe(self, event: Event) -> None:
        weight = EVENT_WEIGHTS.get(event.type, 0.0)
        if weight > 0.0 and event.item_id is not None:
            self._counts[event.item_id] = self._counts.get(event.item_id, 0.0) + weight

    def recommend(self, batch: Sequence[UserFeatures], k: int) -> list[list[ScoredItem]]:
        """Top-k items per user, skipping what the user engaged with recently."""
        # Ties broken by item id so equal counts give the same order on every subtask.
        top = heapq.nsmallest(
            k + RECENT_ITEMS_CAP, self._counts.items(), key=lambda kv: (-kv[1], kv[0])
        )
        out: list[list[ScoredItem]] = []
        for features in batch:
            seen = set(features.recent_items)
            out.append([ScoredItem(i, c) for i, c in top if i not in seen][:k])
        return out
