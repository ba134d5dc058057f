"""The serving-features record: what the worker writes reads back equal; bad records are
refused with a reason."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from streamrec.contracts.serving_features import (
    MAX_SERVING_FEATURES_BYTES,
    SERVING_FEATURES_REASONS,
    FeatureSpecRef,
    InvalidServingFeaturesError,
    ServedItem,
    ServingFeatures,
    parse_serving_features,
)

FEATURES = {
    "recent_items": ["i2", "i1"],
    "category_affinity": {"books": 2.5, "toys": 0.25},
    "event_counts": {"view": 2, "click": 1},
    "last_seen_ts": 1_700_000_000_500,
    "engaged_items": ["i2", "i1"],
    "engaged_counts": [1, 2],
}


def record() -> ServingFeatures:
    return ServingFeatures(
        event_id="e-3",
        user_id="u-1",
        event_ts=1_700_000_000_500,
        emitted_ts=1_700_000_000_600,
        model_version="7",
        model_name="streamrec",
        rules_version=None,
        strategy="model",
        feature_spec=FeatureSpecRef("user_features", 1, 604_800_000),
        features=FEATURES,
        event_type="click",
        item_id="i2",
        items=[ServedItem("i9", 0, 0.75), ServedItem("i8", 1, -0.5)],
        context={"page": "home"},
    )


def doc() -> dict[str, Any]:
    """A fresh deep copy (the tests mutate nested fields)."""
    return json.loads(record().to_json())


def test_a_record_reads_back_equal() -> None:
    assert parse_serving_features(record().to_json().encode()) == record()


def test_an_itemless_event_and_no_model_name_are_fine() -> None:
    d = doc()
    d["event"] = {"item_id": None, "type": "request"}
    d["model_name"] = None
    parsed = parse_serving_features(json.dumps(d))
    assert (parsed.item_id, parsed.event_type, parsed.model_name) == (None, "request", None)


def mutated(change: Any) -> bytes:
    d = doc()
    change(d)
    return json.dumps(d).encode()


@pytest.mark.parametrize(
    ("change", "reason", "says"),
    [
        (lambda d: d.pop("features"), "missing_field", "features"),
        (lambda d: d["features"].pop("engaged_counts"), "missing_field", "engaged_counts"),
        (lambda d: d.update(user_id=""), "wrong_type", "user_id"),
        (lambda d: d.update(event_ts=-1), "wrong_type", "event_ts"),
        (lambda d: d.update(event_ts=True), "wrong_type", "event_ts"),
        (lambda d: d["event"].update(type="wink"), "bad_value", "event.type"),
        (lambda d: d["features"].update(recent_items=[1]), "wrong_type", "recent_items"),
        (lambda d: d["features"].update(engaged_counts=[1]), "bad_value", "one count per"),
        (lambda d: d["features"]["category_affinity"].update(x="1"), "wrong_type", "affinity"),
        (lambda d: d["features"]["event_counts"].update(view=1.5), "wrong_type", "event_counts"),
        (lambda d: d["items"][1].update(position=0), "bad_value", "list order"),
        (lambda d: d["items"][0].update(score="high"), "wrong_type", "items[0].score"),
        (lambda d: d.update(feature_spec=[]), "wrong_type", "feature_spec"),
    ],
)
def test_a_bad_field_is_refused_with_its_name(change: Any, reason: str, says: str) -> None:
    with pytest.raises(InvalidServingFeaturesError, match=re.escape(says)) as caught:
        parse_serving_features(mutated(change))
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "bad_json"),
        (b"[]", "wrong_type"),
        (b'{"a": NaN}', "bad_number"),
        (b'{"a": 1, "a": 2}', "duplicate_key"),
        (b"\xff\xfe", "bad_unicode"),
        (b"[" * 100 + b"]" * 100, "too_deep"),
        (b" " * (MAX_SERVING_FEATURES_BYTES + 1), "oversized"),
    ],
)
def test_json_level_problems_keep_the_guards_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidServingFeaturesError) as caught:
        parse_serving_features(raw)
    assert caught.value.reason == reason
    assert reason in SERVING_FEATURES_REASONS
