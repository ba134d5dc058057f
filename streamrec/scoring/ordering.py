"""Stage 5, order: score overlays (boosts, downscores), diversity, final top-K."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.contracts.rules import ScoreOverlay


def overlay_vector(
    item_ids: Sequence[str],
    item_categories: np.ndarray,
    categories: Sequence[str],
    overlay: ScoreOverlay,
) -> np.ndarray:
    """Per-catalogue-row additive boost [N] (compute once per overlay version)."""
    boost = np.zeros(len(item_ids), dtype=np.float32)
    if overlay.category_boosts:
        by_index = np.zeros(len(categories) + 1, dtype=np.float32)
        for i, cat in enumerate(categories):
            by_index[i + 1] = overlay.category_boosts.get(cat, 0.0)
        boost += by_index[item_categories]
    if overlay.item_boosts:
        index = {item: i for i, item in enumerate(item_ids)}
        for item, value in overlay.item_boosts.items():
            if item in index:
                boost[index[item]] += value
    return boost


def order(
    candidates: np.ndarray,
    scores: np.ndarray,
    keep: np.ndarray,
    k: int,
    item_categories: np.ndarray,
    max_per_category: int | None = None,
) -> list[list[tuple[int, float]]]:
    """Per user, the k best kept candidates as (catalogue row, score), best first.

    Ties go to the lower catalogue row, so equal inputs always give equal output.
    """
    masked = np.where(keep, scores, -np.inf)
    ordering = np.lexsort((candidates, -masked), axis=1)
    out: list[list[tuple[int, float]]] = []
    for b in range(candidates.shape[0]):
        picked: list[tuple[int, float]] = []
        per_cat: dict[int, int] = {}
        for j in ordering[b]:
            if not keep[b, j]:
                break  # -inf sorts last: nothing kept remains
            row = int(candidates[b, j])
            if max_per_category is not None:
                cat = int(item_categories[row])
                if per_cat.get(cat, 0) >= max_per_category:
                    continue
                per_cat[cat] = per_cat.get(cat, 0) + 1
            picked.append((row, float(masked[b, j])))
            if len(picked) == k:
                break
        out.append(picked)
    return out
