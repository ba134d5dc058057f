"""Turn a batch of UserFeatures into the numpy arrays the user tower and ranker consume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.contracts.event import EVENT_TYPES
from streamrec.state.features import RECENT_ITEMS_CAP, UserFeatures

# Input names of the user tower; the package manifest records them.
USER_INPUTS: tuple[str, ...] = ("recent_items", "last_item", "category_affinity", "activity")
# Width of the activity input: a count per event type plus total affinity.
ACTIVITY_WIDTH = len(EVENT_TYPES) + 1


class FeatureVectorizer:
    """Maps ids onto the model's vocabularies. Index 0 is padding / unknown item.

    ``item_ids[i]`` has embedding index ``i + 1``; categories outside the vocabulary
    are dropped (a new category has no learned meaning yet).
    """

    def __init__(self, item_ids: Sequence[str], categories: Sequence[str]) -> None:
        self.item_ids = tuple(item_ids)
        self.categories = tuple(categories)
        self.item_index = {item: i + 1 for i, item in enumerate(self.item_ids)}
        self.category_index = {c: i for i, c in enumerate(self.categories)}

    @property
    def activity_width(self) -> int:
        return ACTIVITY_WIDTH

    def transform(self, batch: Sequence[UserFeatures]) -> dict[str, np.ndarray]:
        """Arrays for ``batch``: recent_items/last_item int32 indices, the rest float32.

        category_affinity is each user's affinity share per category (sums to 1 or 0);
        activity holds log1p event counts per type plus log1p of total affinity.
        """
        size = len(batch)
        recent = np.zeros((size, RECENT_ITEMS_CAP), dtype=np.int32)
        affinity = np.zeros((size, len(self.categories)), dtype=np.float32)
        activity = np.zeros((size, self.activity_width), dtype=np.float32)
        item_index, cat_index = self.item_index, self.category_index
        for row, feats in enumerate(batch):
            col = 0
            for item in feats.recent_items:
                idx = item_index.get(item)
                if idx is not None:
                    recent[row, col] = idx
                    col += 1
            for cat, value in feats.category_affinity.items():
                c = cat_index.get(cat)
                if c is not None:
                    affinity[row, c] = value
            for t, etype in enumerate(EVENT_TYPES):
                activity[row, t] = feats.event_counts.get(etype, 0)
        total = affinity.sum(axis=1, keepdims=True)
        np.divide(affinity, total, out=affinity, where=total > 0)
        activity[:, -1:] = total
        np.log1p(activity, out=activity)
        return {
            "recent_items": recent,
            "last_item": recent[:, :1].copy(),
            "category_affinity": affinity,
            "activity": activity,
        }
