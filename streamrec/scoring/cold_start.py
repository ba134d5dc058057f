"""Answers for users with no history: what trends now around the item they just touched.

The towers make little of an empty history, so a user's first events (``Scoring.
cold_start_events``) are answered from the job's trending lists (jobs.trending_sql): the
scope of the event's item category first, then ``all``, without the items the user has
just seen or the rules exclude. A user the lists cannot fill (no trending yet, or all of it
excluded) keeps whatever the batch's model or popularity gives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from streamrec.contracts.event import Event
from streamrec.contracts.rules import ItemRules
from streamrec.contracts.scored_item import ScoredItem
from streamrec.contracts.trending import ALL_SCOPE, TrendingList, category_scope
from streamrec.state.features import UserFeatures


class TrendingBoard:
    """The newest trending list per scope, as the worker last received them."""

    def __init__(self) -> None:
        self._lists: dict[str, TrendingList] = {}

    def put(self, trending: TrendingList) -> bool:
        """Keep ``trending`` unless its scope already has a newer window; True if kept."""
        current = self._lists.get(trending.scope)
        if current is not None and current.window_end > trending.window_end:
            return False
        self._lists[trending.scope] = trending
        return True

    def items(self, scope: str) -> tuple[ScoredItem, ...]:
        found = self._lists.get(scope)
        return found.items if found is not None else ()

    def pick(
        self, scopes: Sequence[str], skip: set[str], n: int, reject: Callable[[str], bool]
    ) -> list[ScoredItem]:
        """Up to ``n`` items, scope by scope in order, best first, each once, none in
        ``skip`` (which it extends) nor ``reject``-ed."""
        picked: list[ScoredItem] = []
        for scope in scopes:
            for item in self.items(scope):
                if len(picked) == n:
                    return picked
                if item.item_id in skip or reject(item.item_id):
                    continue
                skip.add(item.item_id)
                picked.append(item)
        return picked

    def __len__(self) -> int:
        return len(self._lists)


def is_cold(features: UserFeatures, max_events: int) -> bool:
    """At most ``max_events`` events folded into the user's state (this one included)."""
    return sum(features.event_counts.values()) <= max_events


def trending_answers(
    events: Sequence[Event],
    features: Sequence[UserFeatures],
    board: TrendingBoard,
    category_of: Mapping[str, str],
    k: int,
    max_events: int,
    rules: ItemRules | None = None,
) -> dict[int, list[ScoredItem]]:
    """Request position -> the trending answer, for each cold user the lists can serve."""
    if max_events <= 0 or not len(board):
        return {}
    answers: dict[int, list[ScoredItem]] = {}
    for position, (event, after) in enumerate(zip(events, features, strict=True)):
        if not is_cold(after, max_events):
            continue
        category = category_of.get(event.item_id or "")
        scopes = ([category_scope(category)] if category else []) + [ALL_SCOPE]
        skip = set(after.recent_items)
        if rules is not None:
            skip |= rules.exclude_items
        picked = board.pick(scopes, skip, k, lambda i: _excluded(i, category_of, rules))
        if picked:
            answers[position] = picked
    return answers


def _excluded(item_id: str, category_of: Mapping[str, str], rules: ItemRules | None) -> bool:
    if rules is None or not rules.exclude_categories:
        return False
    return category_of.get(item_id) in rules.exclude_categories
