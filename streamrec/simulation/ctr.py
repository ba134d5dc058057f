"""Click-through rates with 95% intervals, per (model version, strategy).

Wilson's score interval, not the normal approximation: it stays inside [0, 1] and keeps
its coverage at the small counts and low rates a few minutes of traffic give (the normal
interval collapses to a point at 0 clicks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

Z95 = 1.959964


@dataclass
class Rate:
    shown: int = 0
    clicked: int = 0

    @property
    def ctr(self) -> float | None:
        return self.clicked / self.shown if self.shown else None

    def interval(self, z: float = Z95) -> tuple[float, float] | None:
        if not self.shown:
            return None
        n, p = self.shown, self.clicked / self.shown
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def clearly_above(self, other: Rate) -> bool:
        """True when this interval lies wholly above ``other``'s."""
        mine, theirs = self.interval(), other.interval()
        return mine is not None and theirs is not None and mine[0] > theirs[1]


def from_feedback(values: Iterable[bytes]) -> dict[str, Rate]:
    """Impressions and clicks per model version from the job's ``feedback`` records."""
    out: dict[str, Rate] = {}
    for value in values:
        doc = json.loads(value)
        if "impressions" not in doc:
            continue  # a hit-rate record
        rate = out.setdefault(doc["model_version"], Rate())
        rate.shown += doc["impressions"]
        rate.clicked += doc["clicks"]
    return out


def describe(name: str, rate: Rate) -> str:
    bounds = rate.interval()
    if bounds is None or rate.ctr is None:
        return f"{name}: no lists shown"
    return (
        f"{name}: CTR {rate.ctr:.3f} [{bounds[0]:.3f}, {bounds[1]:.3f}] "
        f"({rate.clicked} clicks / {rate.shown} lists)"
    )
