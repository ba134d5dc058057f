"""The event edge's explicit bounds, and that whatever passes them can travel on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamrec.contracts.errors import InvalidEventError
from streamrec.contracts.event import (
    MAX_CONTEXT_BYTES,
    MAX_CONTEXT_KEYS,
    MAX_CONTEXT_NODES,
    MAX_EVENT_BYTES,
    MAX_FUTURE_SKEW_MS,
    MAX_ID_CHARS,
    MAX_TS_MS,
    Event,
    parse_event,
)
from streamrec.state.user_state import event_to_row

NOW = 1_800_000_000_000


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "click", "ts": NOW,
    }  # fmt: skip
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def reason_of(data: Any, now_ms: int | None = NOW) -> str:
    with pytest.raises(InvalidEventError) as info:
        Event.from_dict(data, now_ms=now_ms)
    return info.value.reason


def test_future_skew_is_minutes_not_a_day() -> None:
    assert MAX_FUTURE_SKEW_MS == 5 * 60 * 1000
    assert Event.from_dict(event(ts=NOW + MAX_FUTURE_SKEW_MS), now_ms=NOW).ts > NOW
    assert reason_of(event(ts=NOW + MAX_FUTURE_SKEW_MS + 1)) == "future_ts"
    assert reason_of(event(ts=NOW + 23 * 3_600_000)) == "future_ts"


def test_ts_range_holds_without_a_clock() -> None:
    assert Event.from_dict(event(ts=MAX_TS_MS)).ts == MAX_TS_MS
    assert reason_of(event(ts=MAX_TS_MS + 1), now_ms=None) == "bad_value"
    assert reason_of(event(ts=2**63 - 1), now_ms=None) == "bad_value"
    assert reason_of(event(ts=2**63), now_ms=None) == "bad_number"
    assert reason_of(event(ts=-(2**70)), now_ms=None) == "bad_number"
    assert reason_of(event(ts=-1), now_ms=None) == "bad_value"
    assert reason_of(event(ts=1.0), now_ms=None) == "wrong_type"
    assert reason_of(event(ts=False), now_ms=None) == "wrong_type"
    # Cassandra's write time is ts in microseconds: it must stay a 64-bit long.
    assert MAX_TS_MS * 1000 < 2**63


@pytest.mark.parametrize("field", ["event_id", "user_id", "item_id"])
def test_ids_are_bounded_and_clean(field: str) -> None:
    assert Event.from_dict(event(**{field: "x" * MAX_ID_CHARS}), now_ms=NOW)
    assert reason_of(event(**{field: "x" * (MAX_ID_CHARS + 1)})) == "too_long"
    assert reason_of(event(**{field: "a\ud800"})) == "bad_unicode"
    assert reason_of(event(**{field: "a\x00b"})) == "bad_unicode"
    assert reason_of(event(**{field: 7})) == "wrong_type"
    assert reason_of(event(**{field: True})) == "wrong_type"


def test_empty_ids_and_missing_item() -> None:
    assert reason_of(event(event_id="")) == "bad_value"
    assert reason_of(event(user_id="")) == "bad_value"
    assert reason_of(event(item_id="")) == "missing_field"
    assert reason_of(event(item_id=...)) == "missing_field"
    assert Event.from_dict(event(type="request", item_id="")).item_id is None


def test_context_must_be_a_small_json_object() -> None:
    ok = {"page": "home", "ab": [1, 2.5, None, True, {"k": "v"}]}
    assert Event.from_dict(event(context=ok)).context == ok
    assert Event.from_dict(event(context=None)).context == {}
    assert reason_of(event(context=[])) == "wrong_type"
    assert reason_of(event(context="")) == "wrong_type"
    assert reason_of(event(context=0)) == "wrong_type"
    many = {f"k{i}": i for i in range(MAX_CONTEXT_KEYS + 1)}
    assert reason_of(event(context=many)) == "too_long"
    assert reason_of(event(context={"v": [0] * MAX_CONTEXT_NODES})) == "too_long"
    assert reason_of(event(context={"blob": "x" * MAX_CONTEXT_BYTES})) == "too_long"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), "bad_number"),
        (float("inf"), "bad_number"),
        (2**64, "bad_number"),
        ({1: "a"}, "wrong_type"),
        ({"a"}, "wrong_type"),
        (b"bytes", "wrong_type"),
        (object(), "wrong_type"),
        ("\udfff", "bad_unicode"),
        ({"\ud800": 1}, "bad_unicode"),
    ],
)
def test_context_values_a_later_stage_could_choke_on(value: Any, expected: str) -> None:
    assert reason_of(event(context={"x": value})) == expected


def test_context_nested_deeper_than_json_can_recurse_is_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(50_000):
        node["a"] = {}
        node = node["a"]
    assert reason_of(event(context=deep)) == "too_deep"
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert reason_of(event(context=loop)) == "too_deep"


def test_non_objects_are_wrong_type() -> None:
    for value in ([], "s", 1, 1.5, None, True, {"a"}, b"{}"):
        assert reason_of(value) == "wrong_type"


def test_accepted_events_convert_to_the_flink_row() -> None:
    raw = json.dumps(event(ts=MAX_TS_MS, context={"n": 2**63 - 1, "s": "\u00e9\U0001f600"}))
    accepted = parse_event(raw.encode("utf-8"))
    row = event_to_row(accepted)
    assert row[4] == MAX_TS_MS and -(2**63) <= row[4] < 2**63
    for text in (accepted.event_id, accepted.user_id, accepted.item_id):
        assert text is not None
        text.encode("utf-8")
    assert json.loads(accepted.to_json())["context"]["n"] == 2**63 - 1


def test_parse_event_refuses_non_bytes_and_oversized() -> None:
    for value in (None, 5, [b"{}"]):
        with pytest.raises(InvalidEventError) as info:
            parse_event(value)  # type: ignore[arg-type]
        assert info.value.reason == "wrong_type"
    with pytest.raises(InvalidEventError) as info:
        parse_event(b" " * (MAX_EVENT_BYTES + 1))
    assert info.value.reason == "oversized"
    with pytest.raises(InvalidEventError) as info:
        parse_event(
            json.dumps(event(user_id="u\ud800"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            )
        )
    assert info.value.reason == "bad_unicode"
