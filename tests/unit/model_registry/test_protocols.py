from streamrec.contracts.event import Event
from streamrec.model_registry.protocols import leave_last_case, temporal_case


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
