from __future__ import annotations

import json

import pytest

from streamrec.contracts.errors import RULES_REASONS, InvalidRulesError
from streamrec.contracts.rules import (
    MAX_ABS_BOOST,
    MAX_NAME_CHARS,
    MAX_RULE_ENTRIES,
    MAX_RULES_BYTES,
    MAX_VERSION_CHARS,
    parse_rules,
)


def reason_of(raw: object) -> str:
    with pytest.raises(InvalidRulesError) as info:
        parse_rules(raw)  # type: ignore[arg-type]
    assert info.value.reason in RULES_REASONS
    return info.value.reason


def rules(**fields: object) -> bytes:
    return json.dumps({"version": "r1", **fields}).encode()


def test_boosts_are_finite_and_bounded() -> None:
    edge = parse_rules(rules(item_boosts={"a": MAX_ABS_BOOST, "b": -MAX_ABS_BOOST}))
    assert edge.overlay.item_boosts == {"a": MAX_ABS_BOOST, "b": -MAX_ABS_BOOST}
    assert reason_of(rules(item_boosts={"a": MAX_ABS_BOOST * 1.01})) == "bad_value"
    assert reason_of(rules(category_boosts={"a": 10**18})) == "bad_value"
    assert reason_of(b'{"version":"r","item_boosts":{"a":1e400}}') == "bad_number"
    assert reason_of(b'{"version":"r","item_boosts":{"a":-Infinity}}') == "bad_number"


def test_sizes_are_bounded() -> None:
    assert reason_of(rules(version="v" * (MAX_VERSION_CHARS + 1))) == "too_long"
    assert reason_of(rules(exclude_items=["x" * (MAX_NAME_CHARS + 1)])) == "too_long"
    assert reason_of(rules(item_boosts={"x" * (MAX_NAME_CHARS + 1): 1})) == "too_long"
    assert reason_of(rules(exclude_categories=["c"] * (MAX_RULE_ENTRIES + 1))) == "too_long"
    assert reason_of(b" " * (MAX_RULES_BYTES + 1)) == "oversized"
    assert len(parse_rules(rules(exclude_items=["c"] * MAX_RULE_ENTRIES)).filters.exclude_items)


def test_json_level_refusals_keep_their_codes() -> None:
    assert reason_of(b'{"version":' + b"[" * 10_000 + b"]" * 10_000 + b"}") == "too_deep"
    assert reason_of(b'{"version":"a","version":"b"}') == "duplicate_key"
    assert reason_of(b'{"version":"\xff"}') == "bad_unicode"
    assert reason_of(b'{"version":"r","exclude_items":["\\ud800"]}') == "bad_unicode"
    assert reason_of('{"version":"\ud800"}') == "bad_unicode"
    assert reason_of(b"") == "bad_json"


def test_tombstones_and_non_bytes_are_refused_not_crashed_on() -> None:
    for value in (None, 1, ["{}"], {"version": "r"}):
        assert reason_of(value) == "wrong_type"


def test_empty_fields_stay_optional_but_falsy_wrong_types_do_not() -> None:
    assert parse_rules(rules(exclude_items=None, item_boosts=None)).is_empty
    assert parse_rules(rules(exclude_items=[], item_boosts={})).is_empty
    assert reason_of(rules(exclude_items="")) == "wrong_type"
    assert reason_of(rules(item_boosts=[])) == "wrong_type"
    assert reason_of(rules(max_per_category=True)) == "bad_value"
    assert reason_of(rules(max_per_category=2**40)) == "bad_value"
