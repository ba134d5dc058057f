from __future__ import annotations

from streamrec.contracts.event import Event
from streamrec.state import user_state
from streamrec.state.features import UserFeatures, update


def test_features_survive_the_flink_row_form() -> None:
    features = update(UserFeatures(), Event("e1", "u", "i1", "click", 1000), {"i1": "books"})
    row = user_state.features_to_row(features)
    assert user_state.features_from_row(row) == features
    assert user_state.features_from_row(None) == UserFeatures()


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
    assert user_state.legacy_pending_from_row("u", legacy) == (event, features)
    assert user_state.LEGACY_PENDING_STATE != user_state.PENDING_STATE


def test_state_types_are_explicit_rows_not_pickles() -> None:
    """Savepoints must be readable by a newer job: no PICKLED_BYTE_ARRAY anywhere."""
    for type_info in (
        user_state.FEATURES_TYPE,
        user_state.PENDING_TYPE,
        user_state.LEGACY_PENDING_TYPE,
    ):
        assert "Pickled" not in repr(type_info)
    assert user_state.features_descriptor(30).get_name() == user_state.FEATURES_STATE
