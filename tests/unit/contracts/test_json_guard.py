from __future__ import annotations

import pytest

from streamrec.contracts.json_guard import (
    MAX_JSON_DEPTH,
    JsonGuardError,
    decode_utf8,
    exceeds_depth,
    strict_loads,
)


def reason(text: str) -> str:
    with pytest.raises(JsonGuardError) as info:
        strict_loads(text)
    return info.value.reason


def test_depth_counts_brackets_outside_strings_only() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert not exceeds_depth(at_limit)
    assert exceeds_depth("[" + at_limit + "]")
    brackets_in_a_string = '{"a":"' + "[{" * 100 + '"}'
    assert not exceeds_depth(brackets_in_a_string)
    # An escaped quote does not end the string; an escaped backslash before a quote does.
    assert not exceeds_depth('["\\"' + "[" * 100 + '"]')
    assert exceeds_depth('["\\\\",' + "[" * 100 + "]" * 100 + "]")
    # Closers first never make room for more openers.
    assert exceeds_depth("]" * 50 + "[" * (MAX_JSON_DEPTH + 1))


def test_twenty_thousand_deep_is_refused_before_json_recurses() -> None:
    assert reason("[" * 20_000 + "]" * 20_000) == "too_deep"
    assert reason('{"a":' * 20_000 + "1" + "}" * 20_000) == "too_deep"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"x": NaN}', "bad_number"),
        ('{"x": Infinity}', "bad_number"),
        ('{"x": -Infinity}', "bad_number"),
        ('{"x": 1e400}', "bad_number"),
        ('{"x": -1e400}', "bad_number"),
        ('{"x": 9223372036854775808}', "bad_number"),
        ('{"x": -9223372036854775809}', "bad_number"),
        ('{"x": ' + "1" * 5000 + "}", "bad_number"),
        ('{"x": 1, "x": 2}', "duplicate_key"),
        ('{"o": {"x": 1, "x": 1}}', "duplicate_key"),
        ('{"x": "\\ud800"}', "bad_unicode"),
        ('{"\\udc00": 1}', "bad_unicode"),
        ('["a\\u0000b"]', "bad_unicode"),
        ("", "bad_json"),
        ("{", "bad_json"),
        ("\ufeff{}", "bad_json"),
    ],
)
def test_what_python_json_lets_through_is_refused(text: str, expected: str) -> None:
    assert reason(text) == expected


def test_int64_bounds_and_valid_pairs_pass() -> None:
    assert strict_loads("[9223372036854775807, -9223372036854775808]") == [2**63 - 1, -(2**63)]
    assert strict_loads('["\\ud83d\\ude00", 1e308, -0.0]') == ["\U0001f600", 1e308, -0.0]


def test_decode_utf8_is_strict() -> None:
    assert decode_utf8(b'{"a":"\xc3\xa9"}') == '{"a":"\u00e9"}'
    for raw in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82"):
        with pytest.raises(JsonGuardError) as info:
            decode_utf8(raw)
        assert info.value.reason == "bad_unicode"
    with pytest.raises(JsonGuardError):
        decode_utf8('{"a":"\ud800"}')
