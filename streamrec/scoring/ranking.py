"""Stage 4, rank: score each (user, candidate) pair with the ranking model, vectorized."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def ranker_inputs(
    user_arrays: dict[str, np.ndarray],
    candidates: np.ndarray,
    retrieval_scores: np.ndarray,
    item_categories: np.ndarray,
    item_dense: np.ndarray,
) -> dict[str, np.ndarray]:
    """Flatten [B, C] candidates into B*C ranker rows (training builds them the same way)."""
    batch, width = candidates.shape
    rows = np.maximum(candidates, 0).reshape(-1)
    user_dense = np.concatenate([user_arrays["category_affinity"], user_arrays["activity"]], axis=1)
    cats = item_categories[rows]
    affinity = user_arrays["category_affinity"]
    # Affinity of the user for the candidate's category; category 0 (unknown) has none.
    padded = np.concatenate([np.zeros((batch, 1), np.float32), affinity], axis=1)
    match = padded[np.repeat(np.arange(batch), width), cats]
    scores = np.where(np.isfinite(retrieval_scores), retrieval_scores, 0.0).reshape(-1, 1)
    return {
        "user_dense": np.repeat(user_dense, width, axis=0).astype(np.float32),
        "item_category": cats[:, None].astype(np.int32),
        "item_dense": item_dense[rows].astype(np.float32),
        "retrieval_score": scores.astype(np.float32),
        "affinity_match": match[:, None].astype(np.float32),
    }


def rank(
    ranker: Any | None,
    user_arrays: dict[str, np.ndarray],
    candidates: np.ndarray,
    retrieval_scores: np.ndarray,
    item_categories: np.ndarray,
    item_dense: np.ndarray,
) -> np.ndarray:
    """Ranker logits [B, C]; without a ranker the retrieval scores pass through."""
    if ranker is None or candidates.size == 0:
        return retrieval_scores.astype(np.float32)
    inputs = ranker_inputs(user_arrays, candidates, retrieval_scores, item_categories, item_dense)
    logits = np.asarray(ranker(inputs, training=False), dtype=np.float32)
    return logits.reshape(candidates.shape)


LIGHT_HISTORY = 20
"""A user's lightness is 1 / (1 + history length / LIGHT_HISTORY): 0.5 at 20 engaged items
(as many as recent_items holds), 0.09 at the history's cap of 200."""


def lightness(history_length: np.ndarray) -> np.ndarray:
    """float64 [B]: near 1 for a user with little history, small for a heavy one."""
    return 1.0 / (1.0 + np.asarray(history_length, dtype=np.float64) / LIGHT_HISTORY)


def blend_terms(
    candidates: np.ndarray,
    retrieval_scores: np.ndarray,
    item_dense: np.ndarray,
    engaged_at: np.ndarray,
    engaged_counts: np.ndarray,
    history_length: np.ndarray | None = None,
    transition: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The terms (state.features.BLEND_TERMS) of each candidate's blended score, [B, C] each.

    ``retrieval``: the towers' inner product; ``recent_popularity``: log1p of the item's
    engagements in the last window before training ended (item_dense column 1), the item
    freshness the id embeddings miss; ``popularity``: log1p of its engagements in all the
    training events (item_dense column 0); ``engaged``/``engaged_rank``/``engaged_count``: the
    candidate is in the user's history, log1p of its position there (0 = newest), log1p
    of the user's engagements with it (all three 0 for other candidates);
    ``popularity_light``/``recent_popularity_light``: the two popularities times the
    user's ``lightness`` (from ``history_length``, int [B], the user's engaged items the
    catalogue knows; 0 if not given), so a fitted blend can lean on popularity for users
    with little history and on their own taste for the others.
    ``engaged_at`` is scoring.engaged.EngagedRows.lookup's answer for ``candidates``.
    """
    rows = np.maximum(candidates, 0)
    mine = engaged_at >= 0
    width = engaged_counts.shape[1]
    counts = (
        np.take_along_axis(engaged_counts, np.clip(engaged_at, 0, width - 1), axis=1)
        if width
        else np.zeros(candidates.shape, np.int64)
    )
    prior = item_dense[rows, 1] if item_dense.shape[1] > 1 else np.zeros(candidates.shape)
    total = item_dense[rows, 0] if item_dense.shape[1] > 0 else np.zeros(candidates.shape)
    light = lightness(
        history_length if history_length is not None else np.zeros(len(candidates), np.int64)
    )[:, None]
    return {
        "retrieval": np.where(np.isfinite(retrieval_scores), retrieval_scores, 0.0),
        "recent_popularity": prior,
        "popularity": total,
        "popularity_light": total * light,
        "recent_popularity_light": prior * light,
        "engaged": mine.astype(np.float64),
        "engaged_rank": np.where(mine, np.log1p(np.maximum(engaged_at, 0)), 0.0),
        "engaged_count": np.where(mine, np.log1p(counts), 0.0),
        "transition": (
            np.log1p(transition) if transition is not None else np.zeros(candidates.shape)
        ),
    }


def blend(terms: dict[str, np.ndarray], weights: Sequence[tuple[str, float]]) -> np.ndarray:
    """float32 [B, C]: the weighted sum of the named terms."""
    first = next(iter(terms.values()))
    out = np.zeros(first.shape, dtype=np.float64)
    for term, weight in weights:
        out += weight * terms[term]
    return out.astype(np.float32)
