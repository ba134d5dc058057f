"""Per-user sets of catalogue rows as one sorted array of ``user * n_items + row`` codes,
so a whole batch is searched with one ``searchsorted`` instead of a loop over users."""

from __future__ import annotations

import numpy as np


def find(
    sorted_codes: np.ndarray, n_items: int, candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where each candidate of ``candidates`` (int [B, C], user b's in row b, -1 padding)
    is in ``sorted_codes``: (index, found), both flat [B * C]. ``index`` is only
    meaningful where ``found``; ``sorted_codes`` must not be empty."""
    users = np.arange(len(candidates), dtype=np.int64)[:, None]
    wanted = (users * n_items + np.maximum(candidates, 0)).reshape(-1)
    at = np.minimum(np.searchsorted(sorted_codes, wanted), len(sorted_codes) - 1)
    found = (sorted_codes[at] == wanted) & (candidates.reshape(-1) >= 0)
    return at, found
