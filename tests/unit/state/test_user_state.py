from __future__ import annotations

from dataclasses import replace

from streamrec.contracts.event import Event
from streamrec.state import user_state
from streamrec.state.features import UserFeatures, update


def test_features_survive_the_flink_row_form() -> None:
    features = update(UserFeatures(), Event("e1", "u", "i1", "click", 1000), {"i1": "books"})
    features = update(features, Event("e2", "u", "i1", "view", 1001), {"i1": "books"})
    row, engaged = user_state.features_to_row(features), user_state.engaged_to_row(features)
    assert user_state.features_from_row(row, engaged) == features
    assert features.engaged_counts == (2,)
    assert user_state.features_from_row(None) == UserFeatures()
    assert user_state.features_from_row(None, engaged).engaged_items == ("i1",)


def test_a_user_restored_without_the_engaged_state_starts_with_an_empty_history() -> None:
    """A savepoint of the previous release has ``user-features`` only."""
    features = update(UserFeatures(), Event("e1", "u", "i1", "click", 1000), {})
    restored = user_state.features_from_row(user_state.features_to_row(features), None)
    assert restored == replace(features, engaged_items=(), engaged_counts=())
    later = update(restored, Event("e2", "u", "i2", "view", 2000), {})
    assert (later.engaged_items, later.engaged_counts) == (("i2",), (1,))


def test_the_features_row_keeps_its_arity() -> None:
    """Flink's row serializer refuses a restored row of another arity: the engaged history
    is a state of its own, and ``user-features`` keeps the four fields of earlier savepoints."""
    assert user_state.FEATURE_FIELDS == [
        "recent_items",
        "category_affinity",
        "event_counts",
        "last_seen_ts",
    ]
    assert len(user_state.features_to_row(UserFeatures())) == 4
    assert user_state.ENGAGED_STATE not in (
        user_state.FEATURES_STATE,
        user_state.PENDING_STATE,
        user_state.LEGACY_PENDING_STATE,
    )
    assert user_state.engaged_descriptor(30).get_name() == user_state.ENGAGED_STATE


def test_pending_rows_are_the_event_without_its_key() -> None:
    event = Event("e1", "u", "i1", "click", 1000)
    pending = user_state.pending_from_event_row(user_state.event_to_row(event))
    assert len(pending) == len(user_state.PENDING_FIELDS)
    assert user_state.pending_from_row("u", pending) == event
    assert user_state.event_from_row(user_state.event_to_row(event)) == event


def test_legacy_pending_rows_still_read_with_their_features() -> None:
    from pyflink.common import Row

    event = Event("e1", "u", "i1", "click", 1000)
    features = update(UserFeatures(), event, {})
    legacy = Row(event.event_id, event.item_id, event.type, event.ts,
                 user_state.features_to_row(features))  # fmt: skip
    # Those snapshots predate the engaged history.
    stored = replace(features, engaged_items=(), engaged_counts=())
    assert user_state.legacy_pending_from_row("u", legacy) == (event, stored)
    assert user_state.LEGACY_PENDING_STATE != user_state.PENDING_STATE


def test_state_types_are_explicit_rows_not_pickles() -> None:
    """Savepoints must be readable by a newer job: no PICKLED_BYTE_ARRAY anywhere."""
    for type_info in (
        user_state.FEATURES_TYPE,
        user_state.PENDING_TYPE,
        user_state.LEGACY_PENDING_TYPE,
        user_state.ENGAGED_TYPE,
    ):
        assert "Pickled" not in repr(type_info)
    assert user_state.features_descriptor(30).get_name() == user_state.FEATURES_STATE
