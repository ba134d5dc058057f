"""The user feature contract shared by offline training and the streaming job's keyed state.

``update`` is the only way features change, online and offline, so a model is trained on
exactly what the job will feed it. Everything here is pure, deterministic and cheap:
an update touches at most ``RECENT_ITEMS_CAP`` ids and one affinity entry per category
the user has seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamrec.contracts.event import EVENT_TYPES, Event

FEATURE_SPEC_NAME = "user_features"
FEATURE_SPEC_VERSION = 1
RECENT_ITEMS_CAP = 20
# One week: long enough to keep a user's main interests across the generator's
# 28-day span, short enough for drift to show. Not tuned; a model records the value it
# was trained with in its FeatureSpec, and the job must fold with the same value.
DEFAULT_HALF_LIFE_MS = 7 * 24 * 3600 * 1000
# How much one event says about interest in its item's category; impressions and
# requests carry no signal about the user's taste.
EVENT_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "add": 3.0,
    "purchase": 5.0,
    "request": 0.0,
    "impression": 0.0,
}
UNKNOWN_CATEGORY = "_unknown"


@dataclass(frozen=True, slots=True)
class UserFeatures:
    """One user's state. Basic types only, so Flink can store it with explicit types.

    Never mutated: ``update`` returns a new instance (the dicts are fresh copies).
    """

    recent_items: tuple[str, ...] = ()
    """Distinct item ids the user engaged with, most recent first, at most RECENT_ITEMS_CAP."""
    category_affinity: dict[str, float] = field(default_factory=dict)
    """Event-weighted, exponentially decayed interest per category, valid at last_seen_ts."""
    event_counts: dict[str, int] = field(default_factory=dict)
    """Number of events seen per event type (lifetime, not decayed)."""
    last_seen_ts: int = 0
    """Event time (epoch ms) of the newest event folded in; 0 before the first."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/state form (lists, dicts, ints, floats)."""
        return {
            "recent_items": list(self.recent_items),
            "category_affinity": dict(self.category_affinity),
            "event_counts": dict(self.event_counts),
            "last_seen_ts": self.last_seen_ts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserFeatures:
        return cls(
            recent_items=tuple(str(i) for i in data.get("recent_items") or ()),
            category_affinity={
                str(k): float(v) for k, v in (data.get("category_affinity") or {}).items()
            },
            event_counts={str(k): int(v) for k, v in (data.get("event_counts") or {}).items()},
            last_seen_ts=int(data.get("last_seen_ts") or 0),
        )


def empty() -> UserFeatures:
    """State of a user with no events yet."""
    return UserFeatures()


def update(
    features: UserFeatures,
    event: Event,
    item_category_lookup: Mapping[str, str],
    *,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
) -> UserFeatures:
    """Fold one event into a user's features and return the new features.

    Late events (ts before last_seen_ts) are accepted: their weight is decayed to
    last_seen_ts instead of decaying the existing state backwards, so the result does
    not depend on how late an event arrives beyond that.
    """
    weight = EVENT_WEIGHTS.get(event.type, 0.0)
    counts = dict(features.event_counts)
    counts[event.type] = counts.get(event.type, 0) + 1

    ref_ts = max(features.last_seen_ts, event.ts)
    affinity = features.category_affinity
    if features.last_seen_ts and ref_ts > features.last_seen_ts:
        factor = decay_factor(ref_ts - features.last_seen_ts, half_life_ms)
        affinity = {c: v * factor for c, v in affinity.items()}
    else:
        affinity = dict(affinity)

    recent = features.recent_items
    if weight > 0.0 and event.item_id is not None:
        category = item_category_lookup.get(event.item_id, UNKNOWN_CATEGORY)
        added = weight * decay_factor(ref_ts - event.ts, half_life_ms)
        affinity[category] = affinity.get(category, 0.0) + added
        if event.ts >= features.last_seen_ts:
            recent = (event.item_id, *(i for i in recent if i != event.item_id))[:RECENT_ITEMS_CAP]
        elif event.item_id not in recent and len(recent) < RECENT_ITEMS_CAP:
            # A late event only fills free slots; it must not push out newer items.
            recent = (*recent, event.item_id)
    return UserFeatures(recent, affinity, counts, ref_ts)


def decay_factor(elapsed_ms: int, half_life_ms: int) -> float:
    """Multiplier after ``elapsed_ms`` with the given half-life (1.0 for elapsed <= 0)."""
    if elapsed_ms <= 0:
        return 1.0
    return math.exp(-math.log(2.0) * elapsed_ms / half_life_ms)


@dataclass(frozen=True, slots=True)
class FeatureField:
    """One field of UserFeatures as a consumer sees it."""

    name: str
    dtype: str
    """``string``, ``int64``, ``float64`` or ``map<string,float64>`` / ``map<string,int64>``."""
    shape: tuple[int, ...]
    """``()`` for scalars and maps; ``(n,)`` for a list of at most n entries."""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What a model needs from user state; a package carries the spec it was trained on."""

    name: str
    version: int
    fields: tuple[FeatureField, ...]
    half_life_ms: int
    event_types: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "fields": [
                {"name": f.name, "dtype": f.dtype, "shape": list(f.shape)} for f in self.fields
            ],
            "half_life_ms": self.half_life_ms,
            "event_types": list(self.event_types),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            fields=tuple(
                FeatureField(str(f["name"]), str(f["dtype"]), tuple(int(s) for s in f["shape"]))
                for f in data["fields"]
            ),
            half_life_ms=int(data["half_life_ms"]),
            event_types=tuple(str(t) for t in data["event_types"]),
        )

    def unsupplied_by(self, supplier: FeatureSpec) -> list[str]:
        """Reasons why ``supplier`` (the job's spec) cannot feed a model needing ``self``.

        An empty list means compatible. Extra fields on the supplier are fine.
        """
        problems: list[str] = []
        if (self.name, self.version) != (supplier.name, supplier.version):
            problems.append(
                f"spec {self.name} v{self.version} needed, "
                f"job supplies {supplier.name} v{supplier.version}"
            )
        offered = {f.name: f for f in supplier.fields}
        for needed in self.fields:
            have = offered.get(needed.name)
            if have is None:
                problems.append(f"field {needed.name!r} is not supplied")
            elif (have.dtype, have.shape) != (needed.dtype, needed.shape):
                problems.append(
                    f"field {needed.name!r}: needs {needed.dtype}{list(needed.shape)}, "
                    f"job supplies {have.dtype}{list(have.shape)}"
                )
        if self.half_life_ms != supplier.half_life_ms:
            problems.append(
                f"half_life_ms {self.half_life_ms} needed, job uses {supplier.half_life_ms}"
            )
        missing_types = [t for t in self.event_types if t not in supplier.event_types]
        if missing_types:
            problems.append(f"event types not counted by the job: {', '.join(missing_types)}")
        return problems


def default_spec(half_life_ms: int = DEFAULT_HALF_LIFE_MS) -> FeatureSpec:
    """The spec this code base's ``update`` produces."""
    return FeatureSpec(
        name=FEATURE_SPEC_NAME,
        version=FEATURE_SPEC_VERSION,
        fields=(
            FeatureField("recent_items", "string", (RECENT_ITEMS_CAP,)),
            FeatureField("category_affinity", "map<string,float64>", ()),
            FeatureField("event_counts", "map<string,int64>", ()),
            FeatureField("last_seen_ts", "int64", ()),
        ),
        half_life_ms=half_life_ms,
        event_types=EVENT_TYPES,
    )
