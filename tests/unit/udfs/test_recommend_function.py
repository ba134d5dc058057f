"""The scoring operator turns what one event can cause into data, never into a restart."""

from __future__ import annotations

from typing import Any

from pyflink.common import Row

from streamrec.udfs.recommend_function import RecommendFunction, RecommendSettings


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self, n: int = 1) -> None:
        self.count += n


class BrokenState:
    """Keyed state that fails, as a bug in the feature code would."""

    def value(self) -> Any:
        raise KeyError("boom")


def test_an_event_the_operator_fails_on_is_counted_and_skipped() -> None:
    fn = RecommendFunction(RecommendSettings())
    fn.features = BrokenState()
    fn.batch = []
    fn.events_failed = Counter()
    fn._restore_serving = lambda ctx: None  # type: ignore[method-assign]
    row = Row(event_id="e1", user_id="u1", item_id="i1", type="view", ts=5)

    assert list(fn.process_element(row, ctx=None)) == []
    assert fn.events_failed.count == 1
