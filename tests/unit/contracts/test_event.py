import json

import pytest

from streamrec.contracts.errors import InvalidEventError
from streamrec.contracts.event import MAX_FUTURE_SKEW_MS, Event, parse_event
from streamrec.model_registry.synthetic import MALFORMATION_KINDS, SyntheticConfig, generate


def test_round_trip_and_unknown_fields_ignored() -> None:
    event = Event("e1", "u1", "i1", "click", 1000, {"page": "home"})
    data = json.loads(event.to_json())
    data["extra"] = {"nested": True}
    assert parse_event(json.dumps(data).encode()) == event


def test_request_needs_no_item_but_click_does() -> None:
    assert parse_event(b'{"event_id":"e","user_id":"u","type":"request","ts":1}').item_id is None
    with pytest.raises(InvalidEventError) as info:
        parse_event(b'{"event_id":"e","user_id":"u","type":"click","ts":1}')
    assert info.value.reason == "missing_field"


def test_bool_ts_is_wrong_type() -> None:
    with pytest.raises(InvalidEventError) as info:
        Event.from_dict(
            {"event_id": "e", "user_id": "u", "item_id": "i", "type": "view", "ts": True}
        )
    assert info.value.reason == "wrong_type"


def test_future_ts_only_checked_with_now() -> None:
    raw = {"event_id": "e", "user_id": "u", "item_id": "i", "type": "view", "ts": 10**13}
    assert Event.from_dict(raw).ts == 10**13
    with pytest.raises(InvalidEventError) as info:
        Event.from_dict(raw, now_ms=10**13 - MAX_FUTURE_SKEW_MS - 1)
    assert info.value.reason == "future_ts"


def test_every_generated_malformation_is_rejected_with_its_reason() -> None:
    data = generate(SyntheticConfig(seed=1, n_users=30, n_items=40, days=3, malformed_share=0.05))
    assert {m.kind for m in data.malformed} == set(MALFORMATION_KINDS)
    now = data.events[-1].ts
    for record in data.malformed:
        with pytest.raises(InvalidEventError) as info:
            parse_event(record.raw, now_ms=now)
        assert info.value.reason == record.kind, record.raw[:200]


def test_past_ts_beyond_the_allowed_age_is_rejected() -> None:
    now = 10**13
    raw = {"event_id": "e", "user_id": "u", "item_id": "i", "type": "view", "ts": now - 1000}
    assert Event.from_dict(raw, now_ms=now, max_age_ms=1000).ts == now - 1000
    with pytest.raises(InvalidEventError) as info:
        Event.from_dict(raw, now_ms=now, max_age_ms=999)
    assert info.value.reason == "past_ts"
