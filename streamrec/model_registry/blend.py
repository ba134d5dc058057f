"""How a model's scoring uses the engaged-item history and item freshness, from data.

Two decisions, both made on the training events alone:

- ``scoring_use``: whether users come back to items they engaged with before. On a
  ratings log nobody rates a movie twice (repeat rate 0), so every engaged item is
  filtered as seen; on an e-commerce log a quarter of the engagements are repeats
  (Taobao: 0.24), so the user's own history becomes a candidate source.
- ``fit_blend``: the weights of the candidate score (scoring.ranking.blend_terms), fitted
  on inner splits of the training events cut like the evaluation's, with towers trained
  on each one's past only (a retrieval score fitted on the inner future would claim its
  labels). A temporal inner split is taken at several consecutive origins and their
  users pooled (TrainConfig.blend_origins): one holds only 8-20 users on a ratings log.
  The blend is kept unless the retrieval score alone beats it on that inner split by
  more than the split's noise (``keeps_blend``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_package.package import LoadedModel
from streamrec.model_registry.evaluate import is_engagement, ranking_metrics
from streamrec.model_registry.protocols import EvalCase
from streamrec.scoring.ordering import order
from streamrec.scoring.pipeline import Candidates, ScoringConfig, gather
from streamrec.scoring.ranking import blend
from streamrec.state.features import ScoringUse

REPEAT_RATE_MIN = 0.01
"""Below this share of repeat engagements a log is treated as consume-once."""
FRESHNESS_TERMS = ("retrieval", "recent_popularity")
POPULARITY_TERMS = ("popularity", "popularity_light", "recent_popularity_light")
"""Popularity, and both popularities weighed by how little history the user has: in a
consume-once catalogue (ratings) users with few engagements mostly take what is popular
(MovieLens temporal: the popularity baseline's hits come from such users, the towers'
from heavy ones). Not on repeat logs, where popularity barely predicts anything (Taobao:
popularity Recall@20 0.002) and the terms cost Recall@20 (0.0499 -> 0.0448)."""
REENGAGE_TERMS = ("engaged", "engaged_rank", "engaged_count")
TRANSITION_TERMS = ("transition",)
"""Where the user's newest engaged items lead (scoring.transitions), on both kinds of
log: on ratings logs the order in which people rate films carries what the towers' one
vector per user loses (movielens-2016 leave-last-5: transitions alone Recall@20 0.166,
the towers' blend 0.137)."""
L2 = 1e-3
LOSS_Z = 2.0
"""The retrieval score alone replaces a fitted blend only when it beats it by more than
LOSS_Z standard errors of the per-user Recall@20 difference on the inner split."""
START_RETRIEVAL_WEIGHT = 10.0
"""1 / the towers' softmax temperature: where the blend starts, the retrieval order."""


def repeat_rate(events: Iterable[Event]) -> float:
    """Share of engagements with an item the same user had engaged with before."""
    seen: set[tuple[str, str | None]] = set()
    total = repeats = 0
    for e in events:
        if is_engagement(e):
            total += 1
            key = (e.user_id, e.item_id)
            repeats += key in seen
            seen.add(key)
    return repeats / total if total else 0.0


def scoring_use(rate: float, transitions: bool = True) -> ScoringUse:
    """The seen filter and candidate sources a log with this ``repeat_rate`` calls for (no
    weights yet: the blend's terms carry placeholder weights until ``fit_blend``);
    ``transitions`` adds the transition term to either blend."""
    extra = TRANSITION_TERMS if transitions else ()
    if rate < REPEAT_RATE_MIN:
        return ScoringUse(
            "engaged", False, _placeholder(FRESHNESS_TERMS + POPULARITY_TERMS + extra)
        )
    return ScoringUse("recent", True, _placeholder(FRESHNESS_TERMS + REENGAGE_TERMS + extra))


def _placeholder(terms: Sequence[str]) -> tuple[tuple[str, float], ...]:
    return tuple((t, START_RETRIEVAL_WEIGHT if t == "retrieval" else 0.0) for t in terms)


@dataclass
class BlendFit:
    use: ScoringUse
    """The final use: fitted weights, or the retrieval score alone if the blend lost."""
    inner_recall_at_20: float
    """Recall@20 on the inner split with the fitted blend."""
    inner_retrieval_recall_at_20: float
    """The same with the retrieval score alone (the same candidates and filter)."""


@dataclass
class _InnerTerms:
    """One inner split's candidates and terms under ``use``, and its labels."""

    found: Candidates
    x: np.ndarray
    """float64 [U, C, T]: the blend's terms per candidate."""
    labels: np.ndarray
    """bool [U, C]: kept candidates the user engaged with in the inner future."""
    ids: Sequence[str]
    truth: Sequence[set[str]]


def _inner_terms(model: LoadedModel, inner: EvalCase, use: ScoringUse) -> _InnerTerms:
    features, truth = inner.eval_set.features, inner.eval_set.truth
    found = gather(model, features, ScoringConfig(), use)
    x = np.stack([found.terms[t] for t, _ in use.blend], axis=2).astype(np.float64)
    ids = model.item_ids
    labels = (
        np.array(
            [
                [r >= 0 and ids[r] in t for r in row]
                for row, t in zip(found.rows, truth, strict=True)
            ],
            dtype=bool,
        )
        & found.keep
    )
    return _InnerTerms(found, x, labels, ids, truth)


def _stacked(inners: Sequence[_InnerTerms]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, keep, labels) of every inner split's users with a positive, candidates padded
    to the widest split (padding is not kept)."""
    width = max(i.x.shape[1] for i in inners)
    xs, keeps, labels = [], [], []
    for inner in inners:
        users = inner.labels.any(axis=1)
        pad = width - inner.x.shape[1]
        xs.append(np.pad(inner.x[users], ((0, 0), (0, pad), (0, 0))))
        keeps.append(np.pad(inner.found.keep[users], ((0, 0), (0, pad))))
        labels.append(np.pad(inner.labels[users], ((0, 0), (0, pad))))
    return np.concatenate(xs), np.concatenate(keeps), np.concatenate(labels)


def fit_blend(splits: Sequence[tuple[LoadedModel, EvalCase]], use: ScoringUse) -> BlendFit:
    """Fit ``use``'s blend weights on the inner ``splits`` (each a case and a model whose
    towers were trained on its training events only), pooled: a softmax over each user's
    kept candidates, with the user's inner-future items as the positives."""
    from scipy.optimize import minimize

    inners = [_inner_terms(model, case, use) for model, case in splits]
    terms = [name for name, _ in use.blend]
    x, keep, labels = _stacked(inners)
    target = labels / np.maximum(labels.sum(axis=1, keepdims=True), 1)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = np.where(keep, x @ w, -np.inf)
        top = s.max(axis=1, keepdims=True)
        p = np.exp(s - top)
        total = p.sum(axis=1, keepdims=True)
        p /= total
        lse = (top + np.log(total))[:, 0]
        value = -(np.where(labels, s, 0.0) * target).sum(axis=1) + lse
        grad = np.einsum("uc,uct->t", p - target, np.where(keep[..., None], x, 0.0))
        n = max(len(x), 1)
        return float(value.sum() / n + L2 * w @ w), grad / n + 2 * L2 * w

    start = np.array([w for _, w in use.blend], dtype=np.float64)
    weights = minimize(loss, start, jac=True, method="L-BFGS-B").x if len(x) else start
    fitted = ScoringUse(
        use.seen_filter,
        use.reengage,
        tuple((t, float(w)) for t, w in zip(terms, weights, strict=True)),
    )
    alone = ScoringUse(use.seen_filter, use.reengage, (("retrieval", 1.0),))
    blended = np.concatenate([_recall_at_20(i.found, fitted, i.ids, i.truth) for i in inners])
    plain = np.concatenate([_recall_at_20(i.found, alone, i.ids, i.truth) for i in inners])
    if keeps_blend(blended, plain):
        return BlendFit(fitted, float(blended.mean()), float(plain.mean()))
    # The history's filter and candidates stay; the score is retrieval's alone.
    return BlendFit(alone, float(blended.mean()), float(plain.mean()))


def keeps_blend(blended: np.ndarray, plain: np.ndarray) -> bool:
    """Whether a fitted blend stays, given per-user Recall@20 on the inner split with it
    (``blended``) and with the retrieval score alone (``plain``).

    The blend includes the retrieval score, so it stays unless the retrieval score alone
    wins by more than LOSS_Z standard errors of the paired difference: on the ratings
    logs' temporal splits the inner split holds 8-20 users, and a plain "beats it" test
    flipped with the training seed (MovieLens-small: seed 0 kept the blend, Recall@20
    0.0876; seed 1 dropped it, 0.0462, though the blend scored 0.0867 there).
    """
    diff = np.asarray(blended, dtype=np.float64) - np.asarray(plain, dtype=np.float64)
    if len(diff) < 2:
        return bool(diff.sum() >= 0.0)
    error = diff.std(ddof=1) / np.sqrt(len(diff))
    return bool(diff.mean() >= -LOSS_Z * error)


def _recall_at_20(
    found: Candidates, use: ScoringUse, ids: Sequence[str], truth: Sequence[set[str]]
) -> np.ndarray:
    """Per-user Recall@20 (evaluate.ranking_metrics' definition)."""
    scores = blend(found.terms, use.blend)
    picked = order(found.rows, scores, found.keep, 20, np.zeros(0, np.int32))
    ranked = [[ids[row] for row, _ in user] for user in picked]
    pairs = zip(ranked, truth, strict=True)
    return np.array([ranking_metrics([r], [t], (20,))["recall_at_20"] for r, t in pairs])
