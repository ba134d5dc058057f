"""Trending for users the model answers: a candidate source, and the way in for new items.

Two uses of the job's trending lists (jobs.trending_sql) next to the model:

- Candidates. The best ``trending_candidates`` items of the ``all`` list that the model
  knows join every user's retrieved candidates, so an item trending now is ranked by the
  model even when the user tower's nearest neighbours miss it (retrieval by inner product
  does not look for what is popular this minute).
- New items. An item the model has never seen has no embedding and no ranker features;
  its trending score is the only thing known about it. Up to ``fresh_slots`` such items,
  best trending score first (the event's category list before ``all``), take evenly spread
  places in the model's list, so a new item reaches users, and produces the engagement the
  next model trains on, before any retraining.

Both skip what the user has just seen and what the rules exclude. With both at 0 the
model's lists are exactly offline scoring's (what `model online-check` compares).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from streamrec.contracts.event import Event
from streamrec.contracts.rules import ItemRules
from streamrec.contracts.scored_item import ScoredItem
from streamrec.contracts.trending import ALL_SCOPE, CATEGORY_PREFIX, category_scope
from streamrec.scoring.cold_start import TrendingBoard
from streamrec.state.features import UserFeatures


def known_trending_rows(board: TrendingBoard, item_index: Mapping[str, int], n: int) -> np.ndarray:
    """Catalogue rows (int64, 0-based) of the best ``n`` items of the ``all`` list the model
    knows. ``item_index`` is the vectorizer's (1-based: 0 pads its inputs)."""
    rows = [item_index[i.item_id] - 1 for i in board.items(ALL_SCOPE) if i.item_id in item_index]
    return np.asarray(rows[:n], dtype=np.int64)


def slot_positions(k: int, slots: int) -> list[int]:
    """Where new items go in a list of ``k``: evenly spread, never first (for k=20 and 2
    slots: 6 and 12), so the model's best answer keeps the top."""
    return sorted({max(1, round((j + 1) * k / (slots + 1)) - 1) for j in range(slots)})


def fresh_items(
    event: Event,
    after: UserFeatures,
    board: TrendingBoard,
    known: Mapping[str, int],
    category_of: Mapping[str, str],
    slots: int,
    rules: ItemRules | None,
) -> list[ScoredItem]:
    """Up to ``slots`` trending items unknown to the model for this event's user."""
    category = category_of.get(event.item_id or "") or _context_category(event)
    scopes = ([category_scope(category)] if category else []) + [ALL_SCOPE]
    skip = set(after.recent_items)
    if rules is not None:
        skip |= rules.exclude_items
    allowed = [scope for scope in scopes if not _scope_excluded(scope, rules)]
    return board.pick(allowed, skip, slots, lambda item_id: item_id in known)


def insert_fresh(items: Sequence[ScoredItem], fresh: Sequence[ScoredItem], k: int,
                 slots: int) -> list[ScoredItem]:  # fmt: skip
    """``items`` with ``fresh`` at ``slot_positions``, cut to ``k``. A new item takes the
    score of the model's item it displaces, so scores stay non-increasing down the list."""
    out = list(items)
    for position, item in zip(slot_positions(k, slots), fresh, strict=False):
        at = min(position, len(out))
        score = out[at].score if at < len(out) else (out[-1].score if out else item.score)
        out.insert(at, ScoredItem(item.item_id, score))
    return out[:k]


def mix_fresh(
    events: Sequence[Event],
    features: Sequence[UserFeatures],
    lists: list[list[ScoredItem]],
    board: TrendingBoard,
    known: Mapping[str, int],
    category_of: Mapping[str, str],
    k: int,
    slots: int,
    rules: ItemRules | None = None,
) -> int:
    """Put new trending items into the model's ``lists`` in place; returns how many."""
    if slots <= 0 or not len(board):
        return 0
    added = 0
    for position, (event, after) in enumerate(zip(events, features, strict=True)):
        fresh = fresh_items(event, after, board, known, category_of, slots, rules)
        if fresh:
            lists[position] = insert_fresh(lists[position], fresh, k, slots)
            added += len(fresh)
    return added


def _context_category(event: Event) -> str | None:
    category = event.context.get("category") if event.context else None
    return category if isinstance(category, str) and category else None


def _scope_excluded(scope: str, rules: ItemRules | None) -> bool:
    if rules is None or not scope.startswith(CATEGORY_PREFIX):
        return False
    return scope[len(CATEGORY_PREFIX) :] in rules.exclude_categories
