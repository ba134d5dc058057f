"""The Trending contract: one record per scope per slide on the ``trending`` topic (key = scope).

Written by the job's trending query (jobs.trending_sql) and read back by the scoring step,
the Cassandra writer and anyone who wants what trends now::

    {"scope": "category:Shoes", "window_start": 1700000000000, "window_end": 1700000300000,
     "items": [{"item_id": "i1", "score": 12.0, "events": 5}, ...]}

``scope`` is ``all`` or ``category:<name>`` (the events' ``context.category``). ``score``
is the sum of the engagement weights of the window's events on the item; ``items`` may
arrive in any order (SQL's JSON_ARRAYAGG keeps none) and ``ranked`` sorts them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamrec.contracts.json_guard import JsonGuardError, load_object
from streamrec.contracts.scored_item import ScoredItem
from streamrec.errors import StreamrecError

ALL_SCOPE = "all"
CATEGORY_PREFIX = "category:"
MAX_TRENDING_BYTES = 256 * 1024
"""1,000 items of 256-char ids still fit; a real list is a few KiB."""
MAX_TRENDING_ITEMS = 1000
MAX_SCOPE_CHARS = 300


class InvalidTrendingError(StreamrecError):
    """A trending record that cannot be served; the previous list of its scope stays."""


def category_scope(category: str) -> str:
    return f"{CATEGORY_PREFIX}{category}"


@dataclass(frozen=True)
class TrendingList:
    scope: str
    window_start: int
    """Epoch ms; the window is [window_start, window_end) in event time."""
    window_end: int
    items: tuple[ScoredItem, ...]
    """Highest score first (ties by item id, so every reader ranks alike)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "items": [{"item_id": i.item_id, "score": i.score} for i in self.items],
        }


def ranked(items: Sequence[ScoredItem]) -> tuple[ScoredItem, ...]:
    return tuple(sorted(items, key=lambda i: (-i.score, i.item_id)))


def parse_trending(raw: bytes | str) -> TrendingList:
    """Validate one trending record; ``InvalidTrendingError`` says what is wrong."""
    try:
        doc = load_object(raw, MAX_TRENDING_BYTES, "trending record")
    except JsonGuardError as ex:
        raise InvalidTrendingError(str(ex)) from None
    scope = doc.get("scope")
    if not isinstance(scope, str) or not 0 < len(scope) <= MAX_SCOPE_CHARS:
        raise InvalidTrendingError(f"scope must be a string of 1-{MAX_SCOPE_CHARS} chars")
    bounds = [doc.get("window_start"), doc.get("window_end")]
    if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 0 for b in bounds):
        raise InvalidTrendingError("window_start and window_end must be epoch milliseconds")
    items = doc.get("items")
    if not isinstance(items, list) or len(items) > MAX_TRENDING_ITEMS:
        raise InvalidTrendingError(f"items must be a list of at most {MAX_TRENDING_ITEMS}")
    return TrendingList(scope, bounds[0], bounds[1], ranked([_item(i) for i in items]))


def _item(entry: object) -> ScoredItem:
    if not isinstance(entry, dict):
        raise InvalidTrendingError("each item must be an object with item_id and score")
    item_id, score = entry.get("item_id"), entry.get("score")
    if not isinstance(item_id, str) or not item_id:
        raise InvalidTrendingError("item_id must be a non-empty string")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise InvalidTrendingError(f"score of {item_id!r} must be a finite number")
    return ScoredItem(item_id, float(score))


def trending_json(trending: TrendingList) -> str:
    return json.dumps(trending.to_dict(), separators=(",", ":"))
