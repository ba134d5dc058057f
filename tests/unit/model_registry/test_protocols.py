import itertools

import pytest

from streamrec.contracts.event import Event
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.protocols import leave_last_case, rolling_cases, temporal_case


def _log() -> list[Event]:
    rows = [
        ("u1", "a", 1), ("u1", "b", 2), ("u2", "a", 3), ("u1", "c", 4),
        ("u2", "c", 5), ("u1", "d", 6), ("u2", "d", 7), ("u1", "a", 8),
    ]  # fmt: skip
    return [Event(str(n), u, i, "view", ts) for n, (u, i, ts) in enumerate(rows)]


def test_temporal_trains_on_nothing_after_the_cut() -> None:
    case = temporal_case(_log(), {}, future_fraction=0.25)
    assert max(e.ts for e in case.train_events) < 7
    # u1's "a" at ts 8 is in its recent items, so it is no truth; u2's "d" is new.
    assert case.eval_set.users == ["u2"] and case.eval_set.truth == [{"d"}]
    assert case.interactions == 1


def test_leave_last_holds_out_each_users_tail_only() -> None:
    case = leave_last_case(_log(), {}, n=2)
    held = {e.event_id for e in _log()} - {e.event_id for e in case.train_events}
    assert held == {"5", "7", "4", "6"}  # u1: d, a (ts 6, 8); u2: c, d (ts 5, 7)
    # u1 keeps a, b, c: "a" is recent, so only "d" is truth; u2 keeps only "a".
    assert case.eval_set.users == ["u1", "u2"]
    assert case.eval_set.truth == [{"d"}, {"c", "d"}]
    assert case.protocol == "leave_last_2"


def test_leave_last_skips_users_without_enough_history() -> None:
    case = leave_last_case(_log(), {}, n=3)
    assert case.eval_set.users == ["u1"]  # u2 has 3 engagements, not more


def test_rolling_origins_are_consecutive_temporal_splits_newest_first() -> None:
    events = [Event(str(n), f"u{n % 3}", f"i{n % 7}", "view", n) for n in range(40)]
    cases = rolling_cases(events, {}, origins=3, future_fraction=0.25)
    assert [c.protocol for c in cases] == ["temporal@0", "temporal@1", "temporal@2"]
    assert cases[0].train_events == temporal_case(events, {}, 0.25).train_events
    for newer, older in itertools.pairwise(cases):
        # The older origin is cut inside the newer one's training events: its future
        # ends where the newer future begins, so no event is in two futures.
        assert older.train_events == newer.train_events[: len(older.train_events)]
        assert max(e.ts for e in older.train_events) < max(e.ts for e in newer.train_events)
    assert [len(c.train_events) for c in cases] == [30, 22, 16]


def test_rolling_stops_where_the_log_is_too_short_to_cut_again() -> None:
    events = [Event(str(n), "u1", f"i{n}", "view", n) for n in range(4)]
    cases = rolling_cases(events, {}, origins=5, future_fraction=0.5)
    # 4 events -> 2 past + 2 future, then 1 + 1, then 1 event cannot be split.
    assert [len(c.train_events) for c in cases] == [2, 1]
    with pytest.raises(DataError):
        rolling_cases(events[:1], {}, origins=2, future_fraction=0.5)
    with pytest.raises(ValueError, match="origins"):
        rolling_cases(events, {}, origins=0)
