"""The latency phase's cold-start share: new users, and latency split by who answered."""

from __future__ import annotations

from streamrec.bench import report
from streamrec.bench.runner import by_strategy, is_new_user, with_new_users
from streamrec.bench.traffic import Answer


def test_one_event_in_every_n_comes_from_a_user_never_seen() -> None:
    events = [{"event_id": f"run-{n}", "user_id": "u1"} for n in range(40)]
    mixed = with_new_users(events, 20)
    new = [e for e in mixed if is_new_user(e)]
    assert len(new) == 2
    assert len({e["user_id"] for e in new}) == 2


def test_latency_is_split_by_the_strategy_that_answered() -> None:
    answers = {
        "e1": Answer(1_000, 1_100, 1_200, "model"),
        "e2": Answer(1_000, 1_300, 1_500, "trending"),
        "e3": Answer(1_000, 1_200, 1_300, "model"),
    }
    split = by_strategy(list(answers.values()), {"e2": 800, "e3": 400}, answers)
    assert split["trending"]["events"] == 1
    assert split["trending"]["readable_ms"]["p50"] == 500
    assert split["trending"]["cassandra_ms"]["p99"] == 800
    assert split["model"]["cassandra_samples"] == 1
    point = {"by_strategy": split}
    lines = report._strategy_lines(point)
    assert len(lines) == 1 and "trending" in lines[0] and "800" in lines[0]
