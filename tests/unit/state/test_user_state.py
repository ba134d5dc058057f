from __future__ import annotations

from streamrec.contracts.event import Event
from streamrec.state import user_state
from streamrec.state.features import UserFeatures, update


def test_features_survive_the_flink_row_form() -> None:
    features = update(UserFeatures(), Event("e1", "u", "i1", "click", 1000), {"i1": "books"})
    row = user_state.features_to_row(features)
    assert user_state.features_from_row(row) == features
    assert user_state.features_from_row(None) == UserFeatures()


def test_pending_rows_carry_the_event_and_its_features() -> None:
    event = Event("e1", "u", "i1", "click", 1000)
    features = update(UserFeatures(), event, {})
    assert user_state.pending_from_row("u", user_state.pending_to_row(event, features)) == (
        event,
        features,
    )
    assert user_state.event_from_row(user_state.event_to_row(event)) == event


def test_state_types_are_explicit_rows_not_pickles() -> None:
    """Savepoints must be readable by a newer job: no PICKLED_BYTE_ARRAY anywhere."""
    for type_info in (user_state.FEATURES_TYPE, user_state.PENDING_TYPE):
        assert "Pickled" not in repr(type_info)
    assert user_state.features_descriptor(30).get_name() == user_state.FEATURES_STATE
