"""engaged_items: the bounded engaged-item history folded by state.features.update."""

from __future__ import annotations

import pytest

from streamrec.contracts.event import Event
from streamrec.state.features import (
    ENGAGED_ITEMS_CAP,
    FeatureSpec,
    ScoringUse,
    UserFeatures,
    default_spec,
    empty,
    model_spec,
    update,
)


def ev(item: str | None, ts: int, etype: str = "view") -> Event:
    return Event(f"e{ts}", "u", item, etype, ts)


def fold(events: list[Event], start: UserFeatures | None = None) -> UserFeatures:
    f = start if start is not None else empty()
    for e in events:
        f = update(f, e, {})
    return f


def test_empty_start_and_first_engagement() -> None:
    assert (empty().engaged_items, empty().engaged_counts) == ((), ())
    f = fold([ev("a", 1)])
    assert (f.engaged_items, f.engaged_counts) == (("a",), (1,))


def test_newest_first_with_counts_and_bounded() -> None:
    events = [ev(f"i{n}", n) for n in range(ENGAGED_ITEMS_CAP + 50)] + [ev("i60", 10_000)]
    f = fold(events)
    assert len(f.engaged_items) == len(f.engaged_counts) == ENGAGED_ITEMS_CAP
    assert f.engaged_items[:2] == ("i60", f"i{ENGAGED_ITEMS_CAP + 49}")
    assert f.engaged_counts[:2] == (2, 1)
    # The oldest fell off; recent_items are among the history.
    assert "i0" not in f.engaged_items
    assert set(f.recent_items) <= set(f.engaged_items)


def test_repeats_count_and_move_to_the_front() -> None:
    f = fold([ev("a", 1), ev("b", 2), ev("a", 3, "purchase"), ev("c", 4)])
    assert f.engaged_items == ("c", "a", "b")
    assert f.engaged_counts == (1, 2, 1)


def test_impressions_and_requests_are_not_engagements() -> None:
    f = fold([ev("a", 1, "impression"), ev(None, 2, "request")])
    assert f.engaged_items == ()


def test_late_events_count_but_never_push_out_newer_items() -> None:
    f = fold([ev("a", 10), ev("b", 20), ev("a", 5), ev("z", 6)])
    assert f.engaged_items == ("b", "a", "z")
    assert f.engaged_counts == (1, 2, 1)
    full = fold([ev(f"i{n}", 100 + n) for n in range(ENGAGED_ITEMS_CAP)])
    late = update(full, ev("old", 1), {})
    assert late.engaged_items == full.engaged_items


def test_the_fold_is_deterministic_and_does_not_mutate() -> None:
    events = [ev(f"i{n % 7}", n) for n in range(40)]
    before = fold(events[:20])
    snapshot = before.to_dict()
    assert fold(events[20:], before) == fold(events)
    assert before.to_dict() == snapshot
    assert UserFeatures.from_dict(fold(events).to_dict()) == fold(events)


def test_counts_shorter_than_items_count_as_one() -> None:
    restored = UserFeatures(engaged_items=("a", "b"), engaged_counts=())
    f = update(restored, ev("b", 1), {})
    assert (f.engaged_items, f.engaged_counts) == (("b", "a"), (2, 1))


def test_scoring_use_travels_in_the_spec_and_needs_the_engaged_fields() -> None:
    use = ScoringUse("engaged", False, (("retrieval", 6.0), ("recent_popularity", 0.5)))
    spec = model_spec(default_spec().half_life_ms, use)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert spec.unsupplied_by(default_spec()) == []
    # A job of the previous release (no engaged fields) cannot serve it...
    old_job = FeatureSpec(**{**_fields(default_spec()), "fields": default_spec().fields[:4]})
    assert any("engaged_items" in p for p in spec.unsupplied_by(old_job))
    # ...but serves a model that does not read them, whose spec reads as before.
    plain = model_spec(default_spec().half_life_ms, None)
    assert plain.unsupplied_by(old_job) == []
    assert "scoring" not in plain.to_dict()


def test_a_blend_weighing_the_users_lightness_reads_the_engaged_history() -> None:
    light = ScoringUse("recent", False, (("retrieval", 6.0), ("popularity_light", 1.0)))
    assert light.reads_engaged
    assert not ScoringUse("recent", False, (("popularity", 1.0),)).reads_engaged
    spec = model_spec(default_spec().half_life_ms, light)
    assert any(f.name == "engaged_items" for f in spec.fields)


@pytest.mark.parametrize(
    "bad",
    [
        {"seen_filter": "all", "reengage": False, "blend": {}},
        {"seen_filter": "recent", "reengage": "yes", "blend": {}},
        {"seen_filter": "recent", "reengage": True, "blend": {"mystery": 1.0}},
        {"seen_filter": "recent", "reengage": True, "blend": {"retrieval": "1"}},
        {"seen_filter": "recent", "reengage": True, "blend": {"retrieval": float("nan")}},
        {"seen_filter": "recent", "reengage": True},
    ],
)
def test_a_malformed_scoring_use_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        ScoringUse.from_dict(bad)


def _fields(spec: FeatureSpec) -> dict:
    return {name: getattr(spec, name) for name in FeatureSpec.__slots__}
