"""The job's edge: every record becomes an event row or a dead letter, and nothing raises."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.contracts.dead_letter import MAX_DEAD_LETTER_BYTES
from streamrec.contracts.errors import EVENT_REASONS
from streamrec.udfs import parse_events
from streamrec.udfs.parse_events import (
    DEAD_LETTERS,
    REASONS,
    DeadLetter,
    ParseEvents,
    parse_or_dead_letter,
)

NOW = 1_800_000_000_000
GOOD = json.dumps(
    {"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "view", "ts": NOW}
).encode()


class FakeCounter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self) -> None:
        self.count += 1


class FakeGroup:
    def __init__(self) -> None:
        self.counters: dict[str, FakeCounter] = {}

    def counter(self, name: str) -> FakeCounter:
        return self.counters.setdefault(name, FakeCounter())

    def add_group(self, name: str) -> FakeGroup:
        return self


class FakeRuntimeContext:
    def __init__(self) -> None:
        self.group = FakeGroup()

    def get_metrics_group(self) -> FakeGroup:
        return self.group


def opened() -> tuple[ParseEvents, FakeGroup]:
    function = ParseEvents("events")
    context = FakeRuntimeContext()
    function.open(context)  # type: ignore[arg-type]
    return function, context.group


def dead(value: Any) -> dict[str, Any]:
    out = parse_or_dead_letter(value, "events", NOW)
    assert isinstance(out, DeadLetter)
    record = json.loads(out.value)
    assert record["reason"] == out.reason
    return record


def test_a_valid_event_becomes_a_row() -> None:
    row = parse_or_dead_letter(GOOD, "events", NOW)
    assert not isinstance(row, DeadLetter)
    assert (row[0], row[1], row[2], row[3], row[4]) == ("e1", "u1", "i1", "view", NOW)
    assert parse_or_dead_letter(bytearray(GOOD), "events", NOW)[0] == "e1"


def test_every_reason_has_a_counter() -> None:
    assert REASONS == EVENT_REASONS
    _, group = opened()
    assert set(REASONS) <= set(group.counters)


def test_process_element_routes_and_counts() -> None:
    function, group = opened()
    now = json.dumps(
        {"event_id": "e1", "user_id": "u1", "type": "request", "ts": int(time.time() * 1000)}
    )
    [keyed] = list(function.process_element(now.encode(), None))  # type: ignore[arg-type]
    key, row = keyed
    assert key == "u1" and row[0] == "e1" and group.counters["eventsValid"].count == 1
    deep = b'{"context":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    [(tag, letter)] = list(function.process_element(deep, None))  # type: ignore[arg-type]
    assert tag is DEAD_LETTERS and letter[0] == "too_deep"
    assert json.loads(letter[1])["reason"] == "too_deep"
    assert group.counters["too_deep"].count == 1


def test_a_bug_below_is_an_internal_error_with_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(parse_events, "parse_event", broken)
    record = dead(GOOD)
    assert record["reason"] == "internal_error"
    assert record["detail"].startswith("KeyError")
    assert record["original"] == GOOD.decode()
    function, group = opened()
    [(_, letter)] = list(function.process_element(GOOD, None))  # type: ignore[arg-type]
    assert letter[0] == "internal_error" and group.counters["internal_error"].count == 1


def test_even_a_failing_dead_letter_gives_a_record(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise Unprintable

    monkeypatch.setattr(parse_events, "parse_event", broken)
    monkeypatch.setattr(parse_events, "dead_letter_json", broken)
    out = parse_or_dead_letter(GOOD, "events", NOW)
    assert isinstance(out, DeadLetter) and out.reason == "internal_error"
    assert "Unprintable" in json.loads(out.value)["detail"]


@pytest.mark.parametrize("value", [None, "text", 10**12, object(), [1, 2], {"a": 1}])
def test_values_that_are_not_bytes_are_dead_letters(value: Any) -> None:
    assert dead(value)["reason"] in EVENT_REASONS


any_value = st.one_of(
    st.binary(max_size=500),
    st.text(st.characters(exclude_categories=[]), max_size=50),
    st.none(),
    st.integers(),
    st.floats(),
    st.lists(st.integers(), max_size=3),
    st.integers(0, 30_000).map(lambda d: b"[" * d + b"]" * d),
    st.builds(
        lambda cut, extra: GOOD[:cut] + extra + GOOD[cut:],
        st.integers(0, len(GOOD)),
        st.binary(max_size=8) | st.sampled_from([b"NaN", b'"\\ud800"', b"1e400", b"[[[["]),
    ),
)


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(any_value)
def test_parse_or_dead_letter_never_raises(value: Any) -> None:
    out = parse_or_dead_letter(value, "events", NOW)
    if isinstance(out, DeadLetter):
        assert out.reason in EVENT_REASONS
        # Only a value the source can never give (not bytes) is the job's own error.
        bytes_like = isinstance(value, (bytes, str)) or value is None
        assert out.reason != "internal_error" or not bytes_like
        assert len(out.value.encode("utf-8")) <= MAX_DEAD_LETTER_BYTES
        assert json.loads(out.value)["reason"] == out.reason
    else:
        assert isinstance(out[4], int) and out[1].encode("utf-8")
