"""The feedback record: one per window per (model version, rules version, strategy) on the
``feedback`` topic (key = model version), written by the job's feedback query
(jobs.feedback_sql)::

    {"model_version": "7", "rules_version": "none", "strategy": "model",
     "window_start": 1700000000000, "window_end": 1700000060000,
     "impressions": 120, "clicks": 9, "adds": 2, "purchases": 1, "ctr": 0.075}

``model_version`` is ``unmatched`` for feedback whose ``context.rec_id`` named no
recommendation within the horizon; ``ctr`` is null without impressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamrec.contracts.json_guard import JsonGuardError, load_object
from streamrec.errors import StreamrecError

MAX_FEEDBACK_BYTES = 4096
COUNT_FIELDS = ("impressions", "clicks", "adds", "purchases")
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


def parse_feedback(raw: bytes | str) -> FeedbackCounts:
    try:
        doc = load_object(raw, MAX_FEEDBACK_BYTES, "feedback record")
    except JsonGuardError as ex:
        raise InvalidFeedbackError(str(ex)) from None
    names = [doc.get(f) for f in NAME_FIELDS]
    if not all(isinstance(n, str) and 0 < len(n) <= 300 for n in names):
        raise InvalidFeedbackError(f"{', '.join(NAME_FIELDS)} must be strings of 1-300 chars")
    numbers = [doc.get(f) for f in ("window_start", "window_end", *COUNT_FIELDS)]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise InvalidFeedbackError("window bounds and counts must be non-negative integers")
    return FeedbackCounts(*names, *numbers)
