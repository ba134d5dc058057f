"""Stage 3, filter: drop candidates the user has seen or that business rules exclude."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.contracts.rules import ItemRules
from streamrec.state.features import UNKNOWN_CATEGORY


def seen_mask(candidates: np.ndarray, recent_index: np.ndarray) -> np.ndarray:
    """True where a candidate row (0-based) is among the user's recent items.

    ``recent_index`` is the vectorizer's 1-based ``recent_items`` array (0 = padding).
    """
    hits = (candidates[:, :, None] + 1) == recent_index[:, None, :]
    return hits.any(axis=2)


def allowed_items(
    item_ids: Sequence[str],
    item_categories: np.ndarray,
    categories: Sequence[str],
    rules: ItemRules,
) -> np.ndarray:
    """Boolean [N] of catalogue rows the rules allow (compute once per rules version)."""
    allowed = np.ones(len(item_ids), dtype=bool)
    if rules.exclude_items:
        allowed &= np.array([i not in rules.exclude_items for i in item_ids], dtype=bool)
    if rules.exclude_categories:
        banned = [i + 1 for i, c in enumerate(categories) if c in rules.exclude_categories]
        if UNKNOWN_CATEGORY in rules.exclude_categories:
            banned.append(0)  # items with no known category
        allowed &= ~np.isin(item_categories, banned)
    return allowed


def keep_mask(
    candidates: np.ndarray,
    recent_index: np.ndarray,
    allowed: np.ndarray | None,
    rules: ItemRules | None,
    engaged: np.ndarray | None = None,
) -> np.ndarray:
    """Keep-mask [B, C]: real candidates, not seen, allowed, passing every predicate.

    ``engaged`` (bool [B, C], True where the candidate is in the user's engaged-item
    history) widens the seen filter to the whole history, for models that ask for it.
    """
    keep = (candidates >= 0) & ~seen_mask(candidates, recent_index)
    if engaged is not None:
        keep &= ~engaged
    if allowed is not None:
        keep &= allowed[np.maximum(candidates, 0)]
    if rules is not None:
        for predicate in rules.predicates:
            keep &= predicate(candidates)
    return keep
