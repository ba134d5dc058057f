"""Item transitions: what users engage with shortly after an item, as a candidate source
and a blend term.

A model's package carries, per catalogue row, the items engaged with within a few
positions after it in users' histories (sparse rows, model_registry.transitions fits
them). At scoring time a user's newest engaged items, weighted down with age, sum their
rows: the items people go on to next from where this user is now. The two towers see
the same history but squeeze it into one vector; the transition rows keep which item led
where (on a ratings log: the films people rate after these ones in their sessions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.scoring.codes import find

QUERY_ITEMS = 20
"""The user's newest engaged items that query the transition rows."""
QUERY_DECAY = 0.9
"""Weight of the n-th newest of them: QUERY_DECAY ** n."""
CANDIDATES = 50
"""Best transition items added to each user's candidates."""


@dataclass(frozen=True)
class ItemTransitions:
    """Sparse rows (CSR): the successors of catalogue row r are
    ``indices[indptr[r]:indptr[r + 1]]`` with ``weights`` at the same positions."""

    indptr: np.ndarray
    """int32 [N + 1], non-decreasing, from 0 to the number of entries."""
    indices: np.ndarray
    """int32 [E], catalogue rows."""
    weights: np.ndarray
    """float32 [E], finite and positive."""

    @property
    def count(self) -> int:
        return len(self.indices)

    def problem(self, n_items: int) -> str | None:
        """Why these arrays are not valid rows over ``n_items`` items, or None."""
        ptr = self.indptr
        if len(ptr) != n_items + 1 or (len(ptr) and (ptr[0] != 0 or ptr[-1] != self.count)):
            return f"indptr must run from 0 to {self.count} over {n_items} rows"
        if len(ptr) > 1 and bool((np.diff(ptr) < 0).any()):
            return "indptr decreases"
        if self.count and not (self.indices.min() >= 0 and self.indices.max() < n_items):
            return f"indices must lie in [0, {n_items})"
        if not bool(np.isfinite(self.weights).all()) or bool((self.weights <= 0).any()):
            return "weights must be finite and positive"
        return None

    def for_users(self, engaged_rows: np.ndarray) -> UserTransitions:
        """Each user's transition scores from their newest engaged items (``engaged_rows``:
        int64 [B, E] catalogue rows, newest first, -1 padding)."""
        query = engaged_rows[:, :QUERY_ITEMS]
        users, cols = np.nonzero(query >= 0)
        rows = query[users, cols]
        starts = self.indptr[rows].astype(np.int64)
        lengths = self.indptr[rows + 1].astype(np.int64) - starts
        total = int(lengths.sum())
        # The entries of every queried row, flat: start of its row + offset inside it.
        offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        at = np.repeat(starts, lengths) + offsets
        owner = np.repeat(users, lengths)
        weight = np.repeat(QUERY_DECAY ** cols.astype(np.float64), lengths)
        n_items = len(self.indptr) - 1
        codes = owner * n_items + self.indices[at]
        unique, inverse = np.unique(codes, return_inverse=True)
        sums = np.bincount(inverse, weights=weight * self.weights[at], minlength=len(unique))
        return UserTransitions(unique, sums, n_items, len(engaged_rows))


@dataclass(frozen=True)
class UserTransitions:
    """Per user, the items their history leads to, with scores (sorted ``user * n + row``
    codes)."""

    codes: np.ndarray
    scores: np.ndarray
    n_items: int
    users: int

    def lookup(self, candidates: np.ndarray) -> np.ndarray:
        """float64 [B, C]: each candidate's transition score, 0 where it has none."""
        if len(self.codes) == 0 or candidates.size == 0:
            return np.zeros(candidates.shape, dtype=np.float64)
        at, found = find(self.codes, self.n_items, candidates)
        return np.where(found, self.scores[at], 0.0).reshape(candidates.shape)

    def top(self, n: int) -> np.ndarray:
        """int64 [B, n]: each user's best ``n`` rows, best first (ties to the lower row),
        -1 padding."""
        if len(self.codes) == 0 or n == 0:
            return np.full((self.users, n), -1, dtype=np.int64)
        # Each user's entries laid out in one padded row (codes are sorted, so a user's
        # rows ascend along it); the n-th best score per row splits it, and ties at that
        # score go to the lower rows. A full sort of every entry cost as much as the rest
        # of the transition scoring together.
        owner = self.codes // self.n_items
        first = np.searchsorted(owner, np.arange(self.users + 1))
        col = np.arange(len(owner)) - first[owner]
        width = int(np.diff(first).max())
        scores = np.full((self.users, width), -np.inf)
        rows = np.full((self.users, width), -1, dtype=np.int64)
        scores[owner, col] = self.scores
        rows[owner, col] = self.codes % self.n_items
        if n < width:
            threshold = -np.partition(-scores, n - 1, axis=1)[:, n - 1 : n]
            above = scores > threshold
            tied = scores == threshold
            room = n - above.sum(axis=1, keepdims=True)
            chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
            scores = np.where(chosen, scores, -np.inf)
            rows = np.where(chosen, rows, -1)
        order = np.lexsort((np.where(rows >= 0, rows, np.iinfo(np.int64).max), -scores), axis=1)
        best = np.take_along_axis(rows, order, axis=1)[:, :n]
        return np.pad(best, ((0, 0), (0, n - best.shape[1])), constant_values=-1)
