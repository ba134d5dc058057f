"""The scoring operator turns what one event can cause into data, never into a restart."""

from __future__ import annotations

import json
from typing import Any

from pyflink.common import Row

from streamrec.udfs.parse_events import DEAD_LETTERS
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


def test_an_event_the_operator_fails_on_becomes_a_dead_letter() -> None:
    fn = RecommendFunction(RecommendSettings(events_topic="ev"))
    fn.features = BrokenState()
    fn.batch = []
    fn.events_failed = Counter()
    fn._restore_serving = lambda ctx: None  # type: ignore[method-assign]
    row = Row(event_id="e1", user_id="u1", item_id="i1", type="view", ts=5)

    out = list(fn.process_element(row, ctx=None))

    assert len(out) == 1 and out[0][0] is DEAD_LETTERS
    dead = out[0][1]
    assert dead[0] == "internal_error"
    record = json.loads(dead[1])
    assert record["reason"] == "internal_error"
    assert record["detail"].startswith("recommend: KeyError")
    assert record["source_topic"] == "ev"
    assert json.loads(record["original"])["event_id"] == "e1"
    assert fn.events_failed.count == 1
