"""Build training examples by folding events through state.features.update, in time order.

The model sees, for each engagement, the user's features as they were just before it:
exactly what the streaming job's keyed state holds when that event arrives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_registry.errors import DataError
from streamrec.state.features import DEFAULT_HALF_LIFE_MS, UserFeatures, empty, update


@dataclass
class TimeSplit:
    past: list[Event]
    future: list[Event]
    split_ts: int


def split_by_time(events: Sequence[Event], future_fraction: float) -> TimeSplit:
    """Cut at the timestamp leaving ``future_fraction`` of the events in the future."""
    if not events:
        raise DataError("no events to split")
    if not 0.0 < future_fraction < 1.0:
        raise DataError(f"future_fraction must be in (0, 1), got {future_fraction}")
    split_ts = events[min(len(events) - 1, int(len(events) * (1.0 - future_fraction)))].ts
    past = [e for e in events if e.ts < split_ts]
    future = [e for e in events if e.ts >= split_ts]
    if not past or not future:
        raise DataError(
            f"time split at {split_ts} leaves {len(past)} past / {len(future)} future events"
        )
    return TimeSplit(past, future, split_ts)


@dataclass
class Folded:
    states: dict[str, UserFeatures]
    """Each user's features after the last event folded."""
    snapshot: dict[str, UserFeatures]
    """Each user's features just before ``snapshot_ts`` (empty if not requested)."""
    example_features: list[UserFeatures]
    example_items: list[str]
    example_ts: np.ndarray
    """int64 event time of each example."""


def fold(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    *,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
    snapshot_ts: int | None = None,
    max_examples: int | None = None,
    seed: int = 0,
) -> Folded:
    """Fold events (sorted by ts) per user; an engagement yields (features before, item).

    ``max_examples`` keeps a uniform random subset (seeded) to bound training time.
    """
    states: dict[str, UserFeatures] = {}
    snapshot: dict[str, UserFeatures] = {}
    feats: list[UserFeatures] = []
    items: list[str] = []
    stamps: list[int] = []
    base = empty()
    taken = False
    for e in events:
        if snapshot_ts is not None and not taken and e.ts >= snapshot_ts:
            snapshot, taken = dict(states), True
        before = states.get(e.user_id, base)
        if (
            e.item_id is not None
            and e.type in ("view", "click", "add", "purchase")
            and before.recent_items
        ):
            # Users with no history give no signal to the user tower; skip their first event.
            feats.append(before)
            items.append(e.item_id)
            stamps.append(e.ts)
        states[e.user_id] = update(before, e, item_categories, half_life_ms=half_life_ms)
    if snapshot_ts is not None and not taken:
        snapshot = dict(states)
    if max_examples is not None and len(items) > max_examples:
        keep = np.sort(
            np.random.default_rng(seed).choice(len(items), size=max_examples, replace=False)
        )
        feats = [feats[i] for i in keep]
        items = [items[i] for i in keep]
        stamps = [stamps[i] for i in keep]
    return Folded(states, snapshot, feats, items, np.array(stamps, dtype=np.int64))


def item_popularity(events: Sequence[Event], since_ts: int | None = None) -> Counter[str]:
    """Engagement counts per item (optionally only events at or after ``since_ts``)."""
    return Counter(
        e.item_id
        for e in events
        if e.item_id is not None
        and e.type in ("view", "click", "add", "purchase")
        and (since_ts is None or e.ts >= since_ts)
    )
