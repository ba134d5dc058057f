import pytest

from streamrec.contracts.event import Event
from streamrec.state.features import (
    DEFAULT_HALF_LIFE_MS,
    RECENT_ITEMS_CAP,
    FeatureField,
    FeatureSpec,
    UserFeatures,
    default_spec,
    empty,
    update,
)

CATS = {f"i{n}": f"c{n % 3}" for n in range(50)}


def ev(item: str | None, ts: int, etype: str = "view") -> Event:
    return Event(f"e{ts}", "u", item, etype, ts)


def fold(events: list[Event]) -> UserFeatures:
    f = empty()
    for e in events:
        f = update(f, e, CATS)
    return f


def test_recent_items_most_recent_first_distinct_and_capped() -> None:
    f = fold([ev(f"i{n}", n) for n in range(30)] + [ev("i25", 100)])
    assert len(f.recent_items) == RECENT_ITEMS_CAP
    assert f.recent_items[:3] == ("i25", "i29", "i28")
    assert f.recent_items.count("i25") == 1


def test_counts_every_type_but_impressions_add_no_affinity_or_recent() -> None:
    f = fold([ev("i1", 1, "impression"), ev(None, 2, "request"), ev("i2", 3, "purchase")])
    assert f.event_counts == {"impression": 1, "request": 1, "purchase": 1}
    assert f.recent_items == ("i2",)
    assert f.category_affinity == {"c2": 5.0}
    assert f.last_seen_ts == 3


def test_affinity_halves_after_one_half_life() -> None:
    f = fold([ev("i0", 1), ev("i1", 1 + DEFAULT_HALF_LIFE_MS)])
    assert f.category_affinity["c0"] == pytest.approx(0.5)
    assert f.category_affinity["c1"] == pytest.approx(1.0)


def test_late_event_decayed_and_does_not_displace_newer_items() -> None:
    f = fold([ev("i1", 10 * DEFAULT_HALF_LIFE_MS), ev("i0", 9 * DEFAULT_HALF_LIFE_MS)])
    assert f.recent_items == ("i1", "i0")
    assert f.category_affinity["c0"] == pytest.approx(0.5)
    assert f.last_seen_ts == 10 * DEFAULT_HALF_LIFE_MS


def test_update_does_not_mutate_input() -> None:
    before = fold([ev("i0", 1)])
    snapshot = before.to_dict()
    update(before, ev("i0", 2, "click"), CATS)
    assert before.to_dict() == snapshot


def test_to_dict_from_dict_round_trip() -> None:
    f = fold([ev("i1", 1), ev("i2", 5, "add")])
    assert UserFeatures.from_dict(f.to_dict()) == f


def test_spec_round_trip_and_compatibility() -> None:
    spec = default_spec()
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert spec.unsupplied_by(spec) == []
    narrower = FeatureSpec(
        spec.name, spec.version, spec.fields[:2], spec.half_life_ms, spec.event_types
    )
    assert any("last_seen_ts" in p for p in spec.unsupplied_by(narrower))
    wrong_shape = FeatureSpec(
        spec.name,
        spec.version,
        (FeatureField("recent_items", "string", (10,)), *spec.fields[1:]),
        spec.half_life_ms,
        spec.event_types,
    )
    assert any("recent_items" in p for p in spec.unsupplied_by(wrong_shape))
    assert any("half_life" in p for p in spec.unsupplied_by(default_spec(1000)))
