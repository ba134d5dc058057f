"""Offline evaluation: Recall@K and NDCG@K of rankings against each user's truth.

The protocols that produce truth sets are in ``protocols``, the baselines in
``baselines``, the table of both in ``comparison``.

Definitions (binary relevance): the truth of a user is the set of distinct items they
engaged with (view or stronger) in the future slice, minus items already in their
recent_items (the scoring path filters those out, for the baseline too).
Recall@K = hits in top K / |truth|; NDCG@K = DCG@K / ideal DCG@K with min(|truth|, K)
relevant items. Both are averaged over users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_package.package import LoadedModel
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.state.features import EVENT_WEIGHTS, UserFeatures

KS: tuple[int, ...] = (10, 20, 100)


@dataclass
class EvalSet:
    users: list[str]
    features: list[UserFeatures]
    truth: list[set[str]]


def is_engagement(event: Event) -> bool:
    return EVENT_WEIGHTS.get(event.type, 0.0) > 0.0 and event.item_id is not None


def build_eval_set(states: Mapping[str, UserFeatures], future: Iterable[Event]) -> EvalSet:
    """Warm users (with state at the split) that engage with something new in the future."""
    truth: dict[str, set[str]] = {}
    for e in future:
        if is_engagement(e) and e.user_id in states:
            truth.setdefault(e.user_id, set()).add(e.item_id)  # type: ignore[arg-type]
    users, feats, sets = [], [], []
    for user in sorted(truth):
        fresh = truth[user] - set(states[user].recent_items)
        if fresh:
            users.append(user)
            feats.append(states[user])
            sets.append(fresh)
    return EvalSet(users, feats, sets)


def ranking_metrics(
    ranked: Sequence[Sequence[str]], truth: Sequence[set[str]], ks: Sequence[int] = KS
) -> dict[str, float]:
    """Mean Recall@K and NDCG@K over users."""
    discounts = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    out: dict[str, float] = {}
    for k in ks:
        recalls, ndcgs = [], []
        for items, rel in zip(ranked, truth, strict=True):
            hits = np.array([i in rel for i in items[:k]], dtype=float)
            recalls.append(hits.sum() / len(rel))
            ideal = discounts[: min(len(rel), k)].sum()
            ndcgs.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        out[f"recall_at_{k}"] = float(np.mean(recalls)) if recalls else 0.0
        out[f"ndcg_at_{k}"] = float(np.mean(ndcgs)) if ndcgs else 0.0
    return out


def model_rankings(
    model: LoadedModel,
    features: Sequence[UserFeatures],
    k: int,
    batch_size: int = 1024,
    config: ScoringConfig | None = None,
) -> list[list[str]]:
    """Rankings through the same score_batch the streaming job calls."""
    cfg = config or ScoringConfig(k=k)
    out: list[list[str]] = []
    for start in range(0, len(features), batch_size):
        result = score_batch(model, features[start : start + batch_size], cfg)
        out.extend([s.item_id for s in recs] for recs in result.recommendations)
    return out
