from __future__ import annotations

from typing import Any

import pytest

from streamrec.contracts.recommendation import Recommendation
from streamrec.udfs.cassandra_sink import CassandraSettings, CassandraWriteError, RecsWriter
from streamrec.udfs.scoring import ScoredItem


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def result(self) -> None:
        if self.error is not None:
            raise self.error


class FakeSession:
    """Fails the first ``failures`` writes, then stores rows by user id."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.rows: dict[str, tuple] = {}
        self.calls = 0

    def execute_async(self, _statement: Any, row: tuple) -> FakeFuture:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            return FakeFuture(TimeoutError("node down"))
        self.rows[row[0]] = row
        return FakeFuture(None)


def writer_with(session: FakeSession, retry_timeout_s: float = 5.0) -> RecsWriter:
    writer = RecsWriter(CassandraSettings(("h",), 1, "ks", max_in_flight=2,
                                          retry_timeout_s=retry_timeout_s))  # fmt: skip
    writer._session = session
    return writer


def rec(user: str, event_id: str, ts: int) -> Recommendation:
    return Recommendation(event_id, user, [ScoredItem("i1", 0.5)], "1", "m", None, ts, ts + 1)


def test_newest_answer_per_user_is_written_with_event_time_as_write_time() -> None:
    session = FakeSession(failures=0)
    written = writer_with(session).write(
        [rec("u1", "a", 10), rec("u2", "b", 11), rec("u1", "c", 12), rec("u1", "late", 5)]
    )
    assert written == 2
    assert session.rows["u1"][3] == "c"
    assert session.rows["u1"][-1] == 12_000  # USING TIMESTAMP, microseconds
    assert session.rows["u1"][1] == [("i1", 0.5)]


def test_failed_writes_are_retried_until_they_succeed() -> None:
    session = FakeSession(failures=3)
    assert writer_with(session).write([rec("u1", "a", 1), rec("u2", "b", 2)]) == 2
    assert set(session.rows) == {"u1", "u2"}
    assert session.calls == 5


def test_writes_failing_past_the_retry_budget_fail_the_task() -> None:
    with pytest.raises(CassandraWriteError, match="still failing"):
        writer_with(FakeSession(failures=10**6), retry_timeout_s=0.3).write([rec("u", "a", 1)])


def test_start_sends_at_most_max_in_flight_and_finish_sends_and_settles_the_rest() -> None:
    session = FakeSession(failures=1)
    writer = writer_with(session)  # max_in_flight=2
    pending = writer.start([rec("u1", "a", 1), rec("u2", "b", 2), rec("u3", "c", 3)])
    assert session.calls == 2
    assert writer.finish(pending) == 3
    assert set(session.rows) == {"u1", "u2", "u3"}  # the one failed write was retried
