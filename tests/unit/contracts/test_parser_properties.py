"""Property-based: no input makes the event or rules parser raise anything but its own error."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.contracts.errors import EVENT_REASONS, RULES_REASONS, InvalidEventError
from streamrec.contracts.event import (
    EVENT_TYPES,
    MAX_CONTEXT_BYTES,
    MAX_ID_CHARS,
    MAX_TS_MS,
    Event,
    parse_event,
)
from streamrec.contracts.rules import MAX_ABS_BOOST, parse_rules
from streamrec.state.user_state import event_to_row

NOW = 1_800_000_000_000
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# Any code point, lone surrogates and NUL included (hypothesis leaves surrogates out by default).
any_text = st.text(st.characters(exclude_categories=[]), max_size=20) | st.sampled_from(
    ["", "\ud800", "a\udfff", "\x00", "\ufeff", "x" * (MAX_ID_CHARS + 1)]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities included
    | any_text
)
json_like = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
# What a Python caller could hand from_dict beyond JSON.
python_values = (
    json_like
    | st.sets(st.integers(), max_size=3)
    | st.binary(max_size=8)
    | st.tuples(st.integers())
    | st.dictionaries(st.integers() | st.none(), json_like, max_size=3)
)


def event_like(values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Events whose every field is either plausible or drawn from ``values``."""
    return st.fixed_dictionaries(
        {
            "event_id": st.text(min_size=1, max_size=8) | values,
            "user_id": st.text(min_size=1, max_size=8) | values,
            "type": st.sampled_from(EVENT_TYPES) | values,
            "ts": st.integers(NOW - 10**11, NOW + 10**6) | values,
        },
        optional={
            "item_id": st.text(max_size=8) | values,
            "context": st.dictionaries(any_text, json_like, max_size=5) | values,
            "extra": values,
        },
    )


nearly_valid = event_like(json_like)


def dumps(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


raw_records = (
    st.binary(max_size=300)
    | st.text(max_size=100).map(str.encode)
    | st.builds(dumps, json_like, st.booleans())
    | st.builds(dumps, nearly_valid, st.booleans())
    | st.integers(0, 30_000).map(lambda d: nested(d).encode())
    | st.integers(0, 30_000).map(lambda d: ('{"o":' * d + "1" + "}" * d).encode())
    | st.builds(
        lambda d, ev: dumps(ev, True)[:-1] + b',"context":{"c":' + nested(d).encode() + b"}}",
        st.integers(0, 20_000),
        nearly_valid,
    )
    # Valid records, then cut or spliced at a random place.
    | st.builds(
        lambda r, n: r[:n], st.builds(dumps, nearly_valid, st.booleans()), st.integers(0, 200)
    )
    | st.builds(
        lambda r, n, b: r[:n] + b + r[n:],
        st.builds(dumps, nearly_valid, st.booleans()),
        st.integers(0, 200),
        st.binary(min_size=1, max_size=4),
    )
)


def check_accepted(event: Event) -> None:
    """What passes validation travels on: a Flink row, UTF-8 text, a JSON context."""
    row = event_to_row(event)
    assert isinstance(row[4], int) and 0 <= row[4] <= MAX_TS_MS
    assert event.type in EVENT_TYPES
    for text in (event.event_id, event.user_id, event.item_id or "x"):
        assert isinstance(text, str) and 0 < len(text) <= MAX_ID_CHARS
        text.encode("utf-8")
        assert "\x00" not in text
    context = json.dumps(event.context, allow_nan=False).encode("utf-8")
    assert len(context) <= MAX_CONTEXT_BYTES + 2


@SETTINGS
@given(raw_records, st.none() | st.just(NOW))
def test_parse_event_raises_only_invalid_event_error(raw: bytes, now_ms: int | None) -> None:
    for record in (raw, raw.decode("utf-8", "surrogateescape")):
        try:
            check_accepted(parse_event(record, now_ms=now_ms))
        except InvalidEventError as ex:
            assert ex.reason in EVENT_REASONS


@SETTINGS
@given(event_like(python_values) | python_values, st.none() | st.just(NOW))
def test_from_dict_raises_only_invalid_event_error(data: Any, now_ms: int | None) -> None:
    try:
        check_accepted(Event.from_dict(data, now_ms=now_ms))
    except InvalidEventError as ex:
        assert ex.reason in EVENT_REASONS


rules_like = st.fixed_dictionaries(
    {"version": st.text(min_size=1, max_size=8) | json_like},
    optional={
        "exclude_items": st.lists(st.text(min_size=1, max_size=5)) | json_like,
        "exclude_categories": st.lists(any_text) | json_like,
        "item_boosts": st.dictionaries(any_text, st.floats() | st.integers()) | json_like,
        "category_boosts": st.dictionaries(st.text(min_size=1), st.floats()) | json_like,
        "max_per_category": st.integers() | json_like,
        "unknown": json_like,
    },
)
raw_rules = (
    st.binary(max_size=200)
    | st.builds(dumps, rules_like, st.booleans())
    | st.builds(dumps, json_like, st.booleans())
    | st.integers(0, 20_000).map(
        lambda d: ('{"version":"v","exclude_items":' + nested(d, '"i"') + "}").encode()
    )
    | st.builds(
        lambda r, n: r[:n], st.builds(dumps, rules_like, st.booleans()), st.integers(0, 100)
    )
)


@SETTINGS
@given(raw_rules)
def test_parse_rules_raises_only_invalid_rules_error(raw: bytes) -> None:
    from streamrec.contracts.errors import InvalidRulesError

    for record in (raw, raw.decode("utf-8", "surrogateescape")):
        try:
            rules = parse_rules(record)
        except InvalidRulesError as ex:
            assert ex.reason in RULES_REASONS
            continue
        boosts = {**rules.overlay.item_boosts, **rules.overlay.category_boosts}
        assert all(math.isfinite(b) and abs(b) <= MAX_ABS_BOOST for b in boosts.values())
        rules.version.encode("utf-8")
