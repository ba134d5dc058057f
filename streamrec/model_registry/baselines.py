"""Baselines scored on the same split and with the same seen-item filter as the model.

Every baseline sees only the training events of a protocol (``protocols.EvalCase``) and,
per user, the same ``UserFeatures`` the model gets; like the serving path, each drops
the user's ``recent_items`` from its list, or the whole ``engaged_items`` history with
``whole_history`` (the seen filter of a model whose ScoringUse asks for it, so model and
baselines are filtered alike). Ties go to the more popular item, then the lower id, so
results are deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_registry.evaluate import is_engagement
from streamrec.state.features import ENGAGED_ITEMS_CAP, RECENT_ITEMS_CAP, UserFeatures

COOCCURRENCE_WINDOW = RECENT_ITEMS_CAP
"""Two engagements of one user count as co-occurring when at most this many positions
apart in the user's time-ordered history: the span the online features can query."""


def seen_items(features: UserFeatures, whole_history: bool) -> set[str]:
    """What the seen filter drops for this user."""
    if whole_history:
        return {*features.recent_items, *features.engaged_items}
    return set(features.recent_items)


def popularity_rankings(
    events: Iterable[Event],
    features: Sequence[UserFeatures],
    k: int,
    since_ts: int | None = None,
    whole_history: bool = False,
) -> list[list[str]]:
    """Most-engaged items (only events at or after ``since_ts`` if given), minus seen items."""
    counts = Counter(
        e.item_id for e in events if is_engagement(e) and (since_ts is None or e.ts >= since_ts)
    )
    top = [item for item, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    top = top[: k + RECENT_ITEMS_CAP + (ENGAGED_ITEMS_CAP if whole_history else 0)]
    out = []
    for f in features:
        seen = seen_items(f, whole_history)
        out.append([i for i in top if i not in seen][:k])
    return out


def cooccurrence_rankings(
    events: Sequence[Event],
    features: Sequence[UserFeatures],
    k: int,
    window: int = COOCCURRENCE_WINDOW,
    batch_size: int = 256,
    whole_history: bool = False,
) -> list[list[str]]:
    """Item-to-item co-occurrence: score(j) = sum over the user's recent items r of the
    number of times r and j were engaged with by one user at most ``window`` positions
    apart (training events only); popularity breaks ties and fills empty rows."""
    from scipy import sparse

    histories: dict[str, list[str]] = {}
    for e in events:  # sorted by ts
        if is_engagement(e):
            seq = histories.setdefault(e.user_id, [])
            if not seq or seq[-1] != e.item_id:  # a repeated view is one visit
                seq.append(e.item_id)  # type: ignore[arg-type]
    popularity = Counter(e.item_id for e in events if is_engagement(e))
    items = sorted(popularity, key=lambda i: (-popularity[i], i))
    index = {item: n for n, item in enumerate(items)}
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for seq in histories.values():
        ids = np.array([index[i] for i in seq], dtype=np.int64)
        for offset in range(1, min(window, len(ids) - 1) + 1):
            a, b = ids[:-offset], ids[offset:]
            rows += [a, b]
            cols += [b, a]
    n = len(items)
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    keep = r != c
    counts = sparse.csr_matrix(
        (np.ones(int(keep.sum()), np.float32), (r[keep], c[keep])), shape=(n, n)
    )
    # Popularity rank as a tie-break below one co-occurrence: items are sorted by
    # popularity, so a smaller row index is more popular.
    prior = (1.0 - np.arange(n, dtype=np.float32) / max(n, 1)) * 1e-3
    out: list[list[str]] = []
    for start in range(0, len(features), batch_size):
        chunk = features[start : start + batch_size]
        q_rows, q_cols = [], []
        for row, f in enumerate(chunk):
            for item in f.recent_items:
                if item in index:
                    q_rows.append(row)
                    q_cols.append(index[item])
        query = sparse.csr_matrix(
            (np.ones(len(q_rows), np.float32), (q_rows, q_cols)), shape=(len(chunk), n)
        )
        scores = np.asarray((query @ counts).todense()) + prior
        scores[q_rows, q_cols] = -np.inf  # the serving path filters recent items
        if whole_history:
            for row, f in enumerate(chunk):
                gone = [index[i] for i in f.engaged_items if i in index]
                scores[row, gone] = -np.inf
        kk = min(k, n)
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        for row in range(len(chunk)):
            best = top[row][np.argsort(-scores[row, top[row]], kind="stable")]
            out.append([items[j] for j in best if np.isfinite(scores[row, j])])
    return out
