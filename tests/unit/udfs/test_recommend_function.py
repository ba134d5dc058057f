"""The scoring operator turns what one event can cause into data, never into a restart."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyflink.common import Row

from streamrec.udfs.recommend_function import RecommendFunction, RecommendSettings


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n


class ListState:
    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def get(self) -> list[Row]:
        return self.rows

    def clear(self) -> None:
        self.rows = []


class ValueState:
    def __init__(self) -> None:
        self.stored: Any = None

    def value(self) -> Any:
        return self.stored

    def update(self, value: Any) -> None:
        self.stored = value


def test_an_event_the_operator_fails_on_is_counted_and_skipped() -> None:
    fn = RecommendFunction(RecommendSettings())
    fn.features = ValueState()
    fn.engaged = ValueState()
    # A ts that is not a number: the parser never lets one through, so this is a bug.
    fn.pending = ListState([Row("e1", "i1", "view", "not-a-ts"), Row("e2", "i2", "view", 5)])
    fn.batch = []
    fn.events_failed = Counter()
    fn.serving = SimpleNamespace(category_of={"i2": "books"})

    fn._fold_pending("u1")

    assert fn.events_failed.count == 1
    assert [event.event_id for event, _ in fn.batch] == ["e2"]
    assert fn.batch[0][1].category_affinity == {"books": 1.0}
    assert fn.features.stored is not None and fn.pending.rows == []


def test_the_operator_folds_like_offline_training_engaged_history_included() -> None:
    """Online features (two timer rounds, state stored as Flink rows in between) equal the
    offline fold of examples.fold over the same events, snapshot for snapshot."""
    from streamrec.contracts.event import Event
    from streamrec.model_registry.examples import fold
    from streamrec.state.features import empty, update

    lookup = {"a": "books", "b": "games"}
    events = [
        Event(f"e{n}", "u1", item, etype, ts)
        for n, (item, etype, ts) in enumerate(
            [("a", "view", 10), ("b", "click", 20), ("a", "add", 30), ("c", "view", 25),
             ("d", "purchase", 40), ("b", "view", 50)]
        )
    ]  # fmt: skip
    fn = RecommendFunction(RecommendSettings())
    fn.features, fn.engaged = ValueState(), ValueState()
    fn.batch, fn.events_failed = [], Counter()
    fn.serving = SimpleNamespace(category_of=lookup)
    for round_events in (events[:4], events[4:]):
        fn.pending = ListState([Row(e.event_id, e.item_id, e.type, e.ts) for e in round_events])
        fn._fold_pending("u1")

    offline = fold(events, lookup).states["u1"]
    online = fn.batch[-1][1]
    assert online == offline
    assert online.engaged_items == ("b", "d", "a", "c") and online.engaged_counts == (2, 1, 2, 1)
    expected, state = [], empty()
    for e in events:
        state = update(state, e, lookup)
        expected.append(state)
    assert [after for _, after in fn.batch] == expected
