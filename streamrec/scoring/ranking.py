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


def blend_terms(
    candidates: np.ndarray,
    retrieval_scores: np.ndarray,
    item_dense: np.ndarray,
    engaged_at: np.ndarray,
    engaged_counts: np.ndarray,
) -> dict[str, np.ndarray]:
    """The terms (state.features.BLEND_TERMS) of each candidate's blended score, [B, C] each.

    ``retrieval``: the towers' inner product; ``recent_popularity``: log1p of the item's
    engagements in the last window before training ended (item_dense column 1), the item
    freshness the id embeddings miss; ``engaged``/``engaged_rank``/``engaged_count``: the
    candidate is in the user's history, log1p of its position there (0 = newest), log1p
    of the user's engagements with it (all three 0 for other candidates).
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
    return {
        "retrieval": np.where(np.isfinite(retrieval_scores), retrieval_scores, 0.0),
        "recent_popularity": prior,
        "engaged": mine.astype(np.float64),
        "engaged_rank": np.where(mine, np.log1p(np.maximum(engaged_at, 0)), 0.0),
        "engaged_count": np.where(mine, np.log1p(counts), 0.0),
    }


def blend(terms: dict[str, np.ndarray], weights: Sequence[tuple[str, float]]) -> np.ndarray:
    """float32 [B, C]: the weighted sum of the named terms."""
    first = next(iter(terms.values()))
    out = np.zeros(first.shape, dtype=np.float64)
    for term, weight in weights:
        out += weight * terms[term]
    return out.astype(np.float32)
