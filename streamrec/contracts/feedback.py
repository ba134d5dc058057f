"""The feedback records on the ``feedback`` topic (key = model version), one per window per
(model version, rules version, strategy), of two kinds.

Counts, from the feedback join (jobs.feedback_sql)::

    {"model_version": "7", "rules_version": "none", "strategy": "model",
     "window_start": 1700000000000, "window_end": 1700000060000,
     "impressions": 120, "clicks": 9, "adds": 2, "purchases": 1, "ctr": 0.075}

``model_version`` is ``unmatched`` for feedback whose ``context.rec_id`` named no
recommendation within the horizon; ``ctr`` is null without impressions.

Hit rate@k, from the engagement join (jobs.hit_rate_sql)::

    {"model_version": "7", "rules_version": "none", "strategy": "model",
     "window_start": 1700000000000, "window_end": 1700000060000,
     "recommendations": 480, "hits": 31, "hit_k": 10, "hit_rate": 0.0646}

A record is one kind or the other: ``impressions`` names the first, ``recommendations``
the second. Both go to the same Cassandra row (feedback_by_version), each to its columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamrec.contracts.json_guard import JsonGuardError, load_object
from streamrec.errors import StreamrecError

MAX_FEEDBACK_BYTES = 4096
COUNT_FIELDS = ("impressions", "clicks", "adds", "purchases")
HIT_FIELDS = ("recommendations", "hits", "hit_k")
NAME_FIELDS = ("model_version", "rules_version", "strategy")


class InvalidFeedbackError(StreamrecError):
    """A feedback record that cannot be stored."""


@dataclass(frozen=True)
class FeedbackCounts:
    model_version: str
    rules_version: str
    strategy: str
    window_start: int
    window_end: int
    impressions: int
    clicks: int
    adds: int
    purchases: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


@dataclass(frozen=True)
class HitRate:
    model_version: str
    rules_version: str
    strategy: str
    window_start: int
    window_end: int
    recommendations: int
    """Distinct recommendations emitted in the window."""
    hits: int
    """Of those, how many saw their user engage with one of their first ``hit_k`` items."""
    hit_k: int

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.recommendations if self.recommendations else None


FeedbackRecord = FeedbackCounts | HitRate


def parse_feedback(raw: bytes | str) -> FeedbackRecord:
    try:
        doc = load_object(raw, MAX_FEEDBACK_BYTES, "feedback record")
    except JsonGuardError as ex:
        raise InvalidFeedbackError(str(ex)) from None
    names = [doc.get(f) for f in NAME_FIELDS]
    if not all(isinstance(n, str) and 0 < len(n) <= 300 for n in names):
        raise InvalidFeedbackError(f"{', '.join(NAME_FIELDS)} must be strings of 1-300 chars")
    if "recommendations" in doc:
        hits = _counts(doc, HIT_FIELDS)
        if hits[1] > hits[0]:
            raise InvalidFeedbackError("hits must not exceed recommendations")
        return HitRate(*names, *_counts(doc, ("window_start", "window_end")), *hits)
    return FeedbackCounts(*names, *_counts(doc, ("window_start", "window_end", *COUNT_FIELDS)))


def _counts(doc: dict[str, Any], fields: tuple[str, ...]) -> list[int]:
    numbers = [doc.get(f) for f in fields]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise InvalidFeedbackError(f"{', '.join(fields)} must be non-negative integers")
    return numbers
