import pytest

from streamrec.contracts.event import Event
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.examples import fold, split_by_time

EVENTS = [Event(str(t), "u", f"i{t}", "view", t) for t in range(10)]


def test_split_keeps_future_strictly_after_past() -> None:
    split = split_by_time(EVENTS, 0.3)
    assert max(e.ts for e in split.past) < split.split_ts <= min(e.ts for e in split.future)
    assert len(split.future) == 3
    with pytest.raises(DataError):
        split_by_time(EVENTS, 1.5)


def test_examples_use_features_before_the_event() -> None:
    folded = fold(EVENTS, {}, snapshot_ts=5)
    assert folded.example_items[0] == "i1"  # first event has no history to learn from
    assert folded.example_features[0].recent_items == ("i0",)
    assert folded.snapshot["u"].last_seen_ts == 4
    assert folded.states["u"].last_seen_ts == 9
    assert folded.example_ts.tolist() == list(range(1, 10))
