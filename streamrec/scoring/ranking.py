"""Stage 4, rank: score each (user, candidate) pair with the ranking model, vectorized."""

from __future__ import annotations

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
