"""The user's engaged-item history (UserFeatures.engaged_items) as catalogue rows.

Used by the whole-history seen filter (scoring.filters), by the re-engagement candidates
(scoring.retrieval.merge_candidates) and by the blend terms (scoring.ranking.blend_terms).
Lookups go through one sorted array of ``user * n_items + row`` codes per batch, so the
cost grows with the history's length, not with candidates x history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.scoring.codes import find
from streamrec.state.features import ENGAGED_ITEMS_CAP, UserFeatures, aligned_counts


@dataclass(frozen=True)
class EngagedRows:
    """Per user, the engaged items the model's catalogue knows, most recent first."""

    rows: np.ndarray
    """int64 [B, E] catalogue rows (0-based), -1 padding; E <= ENGAGED_ITEMS_CAP."""
    counts: np.ndarray
    """int64 [B, E] engagements per entry (0 on padding)."""
    n_items: int

    @classmethod
    def of(
        cls, batch: Sequence[UserFeatures], item_index: Mapping[str, int], n_items: int
    ) -> EngagedRows:
        """``item_index`` is the vectorizer's (1-based); unknown items are skipped."""
        width = min(ENGAGED_ITEMS_CAP, max((len(f.engaged_items) for f in batch), default=0))
        # One flat pass in Python, the rest in numpy: per-cell assignment cost more than
        # the rest of scoring at 64 users x 90 items.
        lengths = np.array([min(len(f.engaged_items), width) for f in batch], dtype=np.int64)
        get = item_index.get
        flat = np.fromiter(
            (get(i, 0) for f in batch for i in f.engaged_items[:width]),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        flat_counts = np.fromiter(
            (c for f in batch for c in _counts(f, width)), dtype=np.int64, count=len(flat)
        )
        known = flat > 0
        owner = np.repeat(np.arange(len(batch)), lengths)[known]
        # Column of each known item: its rank among its user's known items.
        starts = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(batch)))])
        col = np.arange(len(owner)) - starts[owner]
        rows = np.full((len(batch), width), -1, dtype=np.int64)
        counts = np.zeros((len(batch), width), dtype=np.int64)
        rows[owner, col] = flat[known] - 1
        counts[owner, col] = flat_counts[known]
        return cls(rows, counts, n_items)

    def lookup(self, candidates: np.ndarray) -> np.ndarray:
        """int64 [B, C]: the position of each candidate in its user's history, -1 if absent."""
        batch, width = self.rows.shape
        if width == 0 or candidates.size == 0:
            return np.full(candidates.shape, -1, dtype=np.int64)
        users = np.arange(batch, dtype=np.int64)[:, None]
        codes = np.where(self.rows >= 0, users * self.n_items + self.rows, -1).reshape(-1)
        order = np.argsort(codes, kind="stable")
        at, found = find(codes[order], self.n_items, candidates)
        positions = np.where(found, order[at] % width, -1)
        return positions.reshape(candidates.shape)


def _counts(features: UserFeatures, width: int) -> tuple[int, ...]:
    """The first ``width`` counts, one per entry (state.features.aligned_counts)."""
    return aligned_counts(features.engaged_items[:width], features.engaged_counts[:width])
