"""One recommended item and its score: what each scoring stage hands on and each output carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
