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
