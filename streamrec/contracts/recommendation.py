"""The Recommendation contract: one record on ``recommendations`` per valid event (key = user_id).

``event_id`` names the trigger, so a reader of the at-least-once stream can drop
duplicates after a failure; ``model_version`` names what scored it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamrec.contracts.scored_item import ScoredItem

STRATEGIES = ("model", "trending", "popularity")
"""What answered an event: the served model, the trending lists (a user with no history,
scoring.cold_start), or popularity (no model yet, or the model failed on the batch)."""


@dataclass(frozen=True)
class Recommendation:
    event_id: str
    user_id: str
    items: Sequence[ScoredItem]
    model_version: str
    """``<version>`` of the model package, or ``fallback:popularity`` before any model."""
    model_name: str | None
    rules_version: str | None
    event_ts: int
    emitted_ts: int
    events_seen: int = 0
    """Events of this user folded into its state, this one included (its state's size in
    events): consecutive per user, so a gap or a repeat shows lost or replayed state."""
    strategy: str = "model"
    """One of ``STRATEGIES``; ``model_version`` still names what served the batch."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "items": [{"item_id": i.item_id, "score": round(i.score, 6)} for i in self.items],
            "model_version": self.model_version,
            "model_name": self.model_name,
            "rules_version": self.rules_version,
            "event_ts": self.event_ts,
            "emitted_ts": self.emitted_ts,
            "events_seen": self.events_seen,
            "strategy": self.strategy,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))
