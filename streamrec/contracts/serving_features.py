"""The serving-features record: what one recommendation was scored with, on the
``serving-features`` topic (key = user_id), one record per recommendation::

    {"event_id": "e-17", "user_id": "u-3", "event_ts": 1700000000000,
     "emitted_ts": 1700000000042, "model_version": "7", "model_name": "streamrec",
     "rules_version": null, "strategy": "model",
     "feature_spec": {"name": "user_features", "version": 1, "half_life_ms": 604800000},
     "features": {"recent_items": ["i-9"], "category_affinity": {"books": 1.0},
                  "event_counts": {"view": 1}, "last_seen_ts": 1700000000000,
                  "engaged_items": ["i-9"], "engaged_counts": [1]},
     "event": {"item_id": "i-9", "type": "view", "context": {}},
     "items": [{"item_id": "i-4", "position": 0, "score": 0.93}, ...]}

``event_id`` is the triggering event's id, which is also the recommendation's id on the
``recommendations`` topic (and ``context.rec_id`` of feedback). ``features`` is the user's
state right after the triggering event, the exact input the model's user tower and scoring
read (``state.features.UserFeatures.to_dict``); the contract keeps it as plain JSON so that
this module does not depend on the layers above it. The training side turns it back into
UserFeatures (``model_registry.serving_log``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streamrec.contracts.event import EVENT_TYPES, MAX_ID_CHARS
from streamrec.contracts.json_guard import JsonGuardError, load_object
from streamrec.errors import StreamrecError

# A typical record is 2-6 KiB (20 recent + up to 200 engaged ids, k items). The bound
# keeps every record far below the Kafka sink's 1 MiB (contracts.limits): the worker drops
# and counts a larger one instead of failing the transaction.
MAX_SERVING_FEATURES_BYTES = 512 * 1024

FEATURE_KEYS = (
    "recent_items",
    "category_affinity",
    "event_counts",
    "last_seen_ts",
    "engaged_items",
    "engaged_counts",
)
TOP_KEYS = frozenset(
    {
        "event_id", "user_id", "event_ts", "emitted_ts", "model_version", "model_name",
        "rules_version", "strategy", "feature_spec", "features", "event", "items",
    }
)  # fmt: skip
# Why a record was refused (the JSON-level codes are json_guard's).
SERVING_FEATURES_REASONS = (
    "oversized",
    "bad_json",
    "too_deep",
    "bad_unicode",
    "bad_number",
    "duplicate_key",
    "wrong_type",
    "missing_field",
    "bad_value",
)


class InvalidServingFeaturesError(StreamrecError):
    """A serving-features record that cannot be trained on; ``reason`` is a stable code
    (one of ``SERVING_FEATURES_REASONS``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class ServedItem:
    item_id: str
    position: int
    """0 is the top of the list the user was shown."""
    score: float


@dataclass(frozen=True)
class FeatureSpecRef:
    """Which fold produced ``features`` (state.features.FeatureSpec, without its fields)."""

    name: str
    version: int
    half_life_ms: int


@dataclass(frozen=True)
class ServingFeatures:
    event_id: str
    user_id: str
    event_ts: int
    emitted_ts: int
    model_version: str
    model_name: str | None
    rules_version: str | None
    strategy: str
    feature_spec: FeatureSpecRef
    features: Mapping[str, Any]
    """UserFeatures.to_dict() of the user right after the triggering event."""
    event_type: str
    item_id: str | None
    """The triggering event's item (None for an item-less type such as ``request``)."""
    items: Sequence[ServedItem]
    context: Mapping[str, Any] = field(default_factory=dict)
    """The triggering event's context as the scoring operator has it: the job's parser
    passes no context to the keyed operator (scoring does not read it), so the job's
    records carry ``{}`` for now; join with ``events`` on event_id for it."""

    def to_dict(self) -> dict[str, Any]:
        spec = self.feature_spec
        return {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "event_ts": self.event_ts,
            "emitted_ts": self.emitted_ts,
            "model_version": self.model_version,
            "model_name": self.model_name,
            "rules_version": self.rules_version,
            "strategy": self.strategy,
            "feature_spec": {
                "name": spec.name,
                "version": spec.version,
                "half_life_ms": spec.half_life_ms,
            },
            "features": dict(self.features),
            "event": {
                "item_id": self.item_id,
                "type": self.event_type,
                "context": dict(self.context),
            },
            "items": [
                {"item_id": i.item_id, "position": i.position, "score": round(i.score, 6)}
                for i in self.items
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def parse_serving_features(raw: bytes | str) -> ServingFeatures:
    """One record, strictly: JSON-level checks (json_guard), then every field's type and
    range. ``InvalidServingFeaturesError`` names the first problem found."""
    try:
        doc = load_object(raw, MAX_SERVING_FEATURES_BYTES, "serving-features record")
    except JsonGuardError as ex:
        raise InvalidServingFeaturesError(ex.reason, str(ex)) from None
    missing = sorted(TOP_KEYS - set(doc))
    if missing:
        raise InvalidServingFeaturesError("missing_field", f"no {', '.join(missing)}")
    event, spec = _object(doc, "event"), _object(doc, "feature_spec")
    event_type = event.get("type")
    if event_type not in EVENT_TYPES:
        raise InvalidServingFeaturesError(
            "bad_value", f"event.type must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}"
        )
    context = event.get("context", {})
    if not isinstance(context, dict):
        raise InvalidServingFeaturesError("wrong_type", "event.context must be an object")
    return ServingFeatures(
        event_id=_id(doc, "event_id"),
        user_id=_id(doc, "user_id"),
        event_ts=_count(doc, "event_ts"),
        emitted_ts=_count(doc, "emitted_ts"),
        model_version=_id(doc, "model_version"),
        model_name=_id(doc, "model_name", optional=True),
        rules_version=_id(doc, "rules_version", optional=True),
        strategy=_id(doc, "strategy"),
        feature_spec=FeatureSpecRef(
            _id(spec, "name", "feature_spec.name"),
            _count(spec, "version", "feature_spec.version"),
            _count(spec, "half_life_ms", "feature_spec.half_life_ms"),
        ),
        features=_features(_object(doc, "features")),
        event_type=event_type,
        item_id=_id(event, "item_id", "event.item_id", optional=True),
        items=_items(doc.get("items")),
        context=context,
    )


def _object(doc: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name)
    if not isinstance(value, dict):
        raise InvalidServingFeaturesError("wrong_type", f"{name} must be an object")
    return value


def _id(doc: Mapping[str, Any], key: str, name: str = "", *, optional: bool = False) -> Any:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise InvalidServingFeaturesError(
            "wrong_type", f"{name or key} must be a string of 1-{MAX_ID_CHARS} chars"
        )
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(doc: Mapping[str, Any], key: str, name: str = "") -> int:
    value = doc.get(key)
    if not _is_int(value) or value < 0:
        raise InvalidServingFeaturesError("wrong_type", f"{name or key} must be an integer >= 0")
    return value


def _ids(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(i, str) and 0 < len(i) <= MAX_ID_CHARS for i in value
    ):
        raise InvalidServingFeaturesError("wrong_type", f"{name} must be a list of item ids")
    return value


def _features(features: dict[str, Any]) -> dict[str, Any]:
    """The UserFeatures fields with the types ``UserFeatures.from_dict`` expects."""
    missing = [k for k in FEATURE_KEYS if k not in features]
    if missing:
        raise InvalidServingFeaturesError("missing_field", f"features has no {', '.join(missing)}")
    _ids(features["recent_items"], "features.recent_items")
    _ids(features["engaged_items"], "features.engaged_items")
    counts = features["engaged_counts"]
    if not isinstance(counts, list) or not all(_is_int(c) and c >= 0 for c in counts):
        raise InvalidServingFeaturesError(
            "wrong_type", "features.engaged_counts must be a list of integers >= 0"
        )
    if len(counts) != len(features["engaged_items"]):
        raise InvalidServingFeaturesError(
            "bad_value", "features.engaged_counts must have one count per engaged item"
        )
    affinity = features["category_affinity"]
    if not isinstance(affinity, dict) or not all(
        type(v) in (int, float) and math.isfinite(v) and v >= 0 for v in affinity.values()
    ):
        raise InvalidServingFeaturesError(
            "wrong_type", "features.category_affinity must map categories to numbers >= 0"
        )
    event_counts = features["event_counts"]
    if not isinstance(event_counts, dict) or not all(
        _is_int(v) and v >= 0 for v in event_counts.values()
    ):
        raise InvalidServingFeaturesError(
            "wrong_type", "features.event_counts must map event types to integers >= 0"
        )
    _count(features, "last_seen_ts", "features.last_seen_ts")
    return features


def _items(value: Any) -> list[ServedItem]:
    if not isinstance(value, list):
        raise InvalidServingFeaturesError("wrong_type", "items must be a list")
    items = []
    for n, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidServingFeaturesError("wrong_type", f"items[{n}] must be an object")
        score = item.get("score")
        if type(score) not in (int, float):
            raise InvalidServingFeaturesError("wrong_type", f"items[{n}].score must be a number")
        position = _count(item, "position", f"items[{n}].position")
        if position != n:
            raise InvalidServingFeaturesError(
                "bad_value", f"items[{n}].position is {position}: items must be in list order"
            )
        items.append(ServedItem(_id(item, "item_id", f"items[{n}].item_id"), position, score))
    return items
