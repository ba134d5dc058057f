"""The user feature contract shared by offline training and the streaming job's keyed state.

``update`` is the only way features change, online and offline, so a model is trained on
exactly what the job will feed it. Everything here is pure, deterministic and cheap:
an update touches at most ``ENGAGED_ITEMS_CAP`` ids and one affinity entry per category
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
# The engaged-item history behind the whole-history seen filter and re-engagement
# candidates (scoring.pipeline). On the Taobao log of docs/quality.md 97% of users have
# fewer distinct engaged items than this; larger caps cost per-event copies and worker
# payload for the few heaviest users.
ENGAGED_ITEMS_CAP = 200
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
    engaged_items: tuple[str, ...] = ()
    """Distinct items engaged with, most recent first, at most ENGAGED_ITEMS_CAP (the
    recent_items are among them). Stored apart from the other fields (state.user_state)."""
    engaged_counts: tuple[int, ...] = ()
    """Engagements with each of engaged_items, in the same order."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/state form (lists, dicts, ints, floats)."""
        return {
            "recent_items": list(self.recent_items),
            "category_affinity": dict(self.category_affinity),
            "event_counts": dict(self.event_counts),
            "last_seen_ts": self.last_seen_ts,
            "engaged_items": list(self.engaged_items),
            "engaged_counts": list(self.engaged_counts),
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
            engaged_items=tuple(str(i) for i in data.get("engaged_items") or ()),
            engaged_counts=tuple(int(c) for c in data.get("engaged_counts") or ()),
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
    engaged, engaged_counts = features.engaged_items, features.engaged_counts
    if weight > 0.0 and event.item_id is not None:
        category = item_category_lookup.get(event.item_id, UNKNOWN_CATEGORY)
        added = weight * decay_factor(ref_ts - event.ts, half_life_ms)
        affinity[category] = affinity.get(category, 0.0) + added
        if event.ts >= features.last_seen_ts:
            recent = (event.item_id, *(i for i in recent if i != event.item_id))[:RECENT_ITEMS_CAP]
        elif event.item_id not in recent and len(recent) < RECENT_ITEMS_CAP:
            # A late event only fills free slots; it must not push out newer items.
            recent = (*recent, event.item_id)
        engaged, engaged_counts = engage(
            engaged, engaged_counts, event.item_id, late=event.ts < features.last_seen_ts
        )
    return UserFeatures(recent, affinity, counts, ref_ts, engaged, engaged_counts)


def engage(
    items: tuple[str, ...], counts: tuple[int, ...], item: str, *, late: bool
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """``items``/``counts`` after one more engagement with ``item`` (O(ENGAGED_ITEMS_CAP)).

    An on-time engagement moves the item to the front; the oldest entry falls off past
    the cap. A late one (older than the newest event folded) only counts: it keeps a
    known item's place, and a new item takes a free slot at the end, so lateness never
    pushes out newer items (the rule recent_items follows).
    """
    counts = aligned_counts(items, counts)
    try:
        at = items.index(item)
    except ValueError:
        at = -1
    if late:
        if at >= 0:
            return items, (*counts[:at], counts[at] + 1, *counts[at + 1 :])
        if len(items) < ENGAGED_ITEMS_CAP:
            return (*items, item), (*counts, 1)
        return items, counts
    if at >= 0:
        n = counts[at] + 1
        return (
            (item, *items[:at], *items[at + 1 :]),
            (n, *counts[:at], *counts[at + 1 :]),
        )
    return (item, *items)[:ENGAGED_ITEMS_CAP], (1, *counts)[:ENGAGED_ITEMS_CAP]


def aligned_counts(items: tuple[str, ...], counts: tuple[int, ...]) -> tuple[int, ...]:
    """One count per item: a restored state may hold ids without counts (or a cut list),
    and those count as 1."""
    if len(counts) == len(items):
        return counts
    return (*counts[: len(items)], *(1,) * (len(items) - len(counts)))


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


SEEN_FILTERS: tuple[str, ...] = ("recent", "engaged")
BLEND_TERMS: tuple[str, ...] = (
    "retrieval",
    "recent_popularity",
    "popularity",
    "popularity_light",
    "recent_popularity_light",
    "engaged",
    "engaged_rank",
    "engaged_count",
    "transition",
)
"""The terms of a scoring blend (scoring.blend says what each one is)."""


@dataclass(frozen=True, slots=True)
class ScoringUse:
    """How a model's scoring path uses user state beyond its towers' inputs.

    Decided at training time from the training data and carried in the package's
    FeatureSpec, so the job scores a model the way it was evaluated.
    """

    seen_filter: str = "recent"
    """``recent``: never recommend recent_items; ``engaged``: nor anything in
    engaged_items (catalogues where an item is consumed once, e.g. ratings)."""
    reengage: bool = False
    """The user's own engaged items (minus recent_items) join the retrieved candidates."""
    blend: tuple[tuple[str, float], ...] = ()
    """Weight per BLEND_TERMS term of the candidate score; empty: retrieval score alone."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen_filter": self.seen_filter,
            "reengage": self.reengage,
            "blend": {term: weight for term, weight in self.blend},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringUse:
        """Parse a manifest's ``scoring`` object; ValueError names what is wrong."""
        if not isinstance(data, Mapping) or set(data) != {"seen_filter", "reengage", "blend"}:
            raise ValueError("scoring needs exactly seen_filter, reengage and blend")
        seen, reengage, weights = data["seen_filter"], data["reengage"], data["blend"]
        if seen not in SEEN_FILTERS:
            raise ValueError(f"scoring.seen_filter must be one of {', '.join(SEEN_FILTERS)}")
        if type(reengage) is not bool:
            raise ValueError("scoring.reengage must be true or false")
        if not isinstance(weights, Mapping) or not all(t in BLEND_TERMS for t in weights):
            raise ValueError(f"scoring.blend maps terms of {', '.join(BLEND_TERMS)} to weights")
        # In BLEND_TERMS order, whatever order the manifest's JSON object has (it is
        # written with sorted keys), so a spec reads back equal to the one trained.
        blend = tuple((t, weights[t]) for t in BLEND_TERMS if t in weights)
        if not all(type(w) in (int, float) and math.isfinite(w) for _, w in blend):
            raise ValueError("scoring.blend weights must be finite numbers")
        return cls(seen, reengage, tuple((t, float(w)) for t, w in blend))

    def weighs(self, term: str) -> bool:
        """Whether the blend has a weight for ``term``."""
        return any(t == term for t, _ in self.blend)

    @property
    def reads_engaged(self) -> bool:
        return (
            self.seen_filter == "engaged"
            or self.reengage
            or self.weighs("transition")
            or any(term.endswith("_light") for term, _ in self.blend)
        )


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """What a model needs from user state; a package carries the spec it was trained on."""

    name: str
    version: int
    fields: tuple[FeatureField, ...]
    half_life_ms: int
    event_types: tuple[str, ...]
    scoring: ScoringUse | None = None
    """None: the towers' inputs only, recent_items as the seen filter (older packages)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "fields": [
                {"name": f.name, "dtype": f.dtype, "shape": list(f.shape)} for f in self.fields
            ],
            "half_life_ms": self.half_life_ms,
            "event_types": list(self.event_types),
        }
        if self.scoring is not None:  # absent, the manifest reads as before this field
            out["scoring"] = self.scoring.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        scoring = data.get("scoring")
        return cls(
            name=str(data["name"]),
            version=int(data["version"]),
            fields=tuple(
                FeatureField(str(f["name"]), str(f["dtype"]), tuple(int(s) for s in f["shape"]))
                for f in data["fields"]
            ),
            half_life_ms=int(data["half_life_ms"]),
            event_types=tuple(str(t) for t in data["event_types"]),
            scoring=None if scoring is None else ScoringUse.from_dict(scoring),
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


TOWER_FIELDS = (
    FeatureField("recent_items", "string", (RECENT_ITEMS_CAP,)),
    FeatureField("category_affinity", "map<string,float64>", ()),
    FeatureField("event_counts", "map<string,int64>", ()),
    FeatureField("last_seen_ts", "int64", ()),
)
ENGAGED_FIELDS = (
    FeatureField("engaged_items", "string", (ENGAGED_ITEMS_CAP,)),
    FeatureField("engaged_counts", "int64", (ENGAGED_ITEMS_CAP,)),
)


def default_spec(half_life_ms: int = DEFAULT_HALF_LIFE_MS) -> FeatureSpec:
    """The spec this code base's ``update`` produces (what the job supplies)."""
    return FeatureSpec(
        name=FEATURE_SPEC_NAME,
        version=FEATURE_SPEC_VERSION,
        fields=(*TOWER_FIELDS, *ENGAGED_FIELDS),
        half_life_ms=half_life_ms,
        event_types=EVENT_TYPES,
    )


def model_spec(half_life_ms: int, scoring: ScoringUse | None) -> FeatureSpec:
    """The spec a trained model carries: the engaged fields only when its scoring reads
    them, so a model that does not can still be served by a job that lacks them."""
    reads = scoring is not None and scoring.reads_engaged
    return FeatureSpec(
        name=FEATURE_SPEC_NAME,
        version=FEATURE_SPEC_VERSION,
        fields=(*TOWER_FIELDS, *(ENGAGED_FIELDS if reads else ())),
        half_life_ms=half_life_ms,
        event_types=EVENT_TYPES,
        scoring=scoring,
    )
