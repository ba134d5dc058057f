from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from cassandra import (
    InvalidRequest,
    OperationTimedOut,
    Unauthorized,
    Unavailable,
    WriteTimeout,
    WriteType,
)
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown
from cassandra.protocol import OverloadedErrorMessage, PreparedQueryNotFound, SyntaxException

from streamrec.contracts.recommendation import Recommendation
from streamrec.contracts.scored_item import ScoredItem
from streamrec.sinks.cassandra import (
    CassandraSettings,
    CassandraWriteError,
    RecsWriter,
    is_permanent,
    write_time,
)

TRANSIENT = TimeoutError("node down")


class FakeFuture:
    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def result(self) -> None:
        if self.error is not None:
            raise self.error


class FakeSession:
    """Fails the first ``failures`` writes transiently, rejects users in ``invalid`` (from
    the server) and ``unencodable`` (while binding), and stores the rest by user id."""

    def __init__(self, failures: int = 0, invalid: set[str] = frozenset(),
                 unencodable: set[str] = frozenset()) -> None:  # fmt: skip
        self.failures = failures
        self.invalid = invalid
        self.unencodable = unencodable
        self.rows: dict[str, tuple] = {}
        self.calls = 0
        self.timeouts: list[float] = []

    def execute_async(self, _statement: Any, row: tuple, timeout: float) -> FakeFuture:
        self.calls += 1
        self.timeouts.append(timeout)
        if row[0] in self.unencodable:
            raise UnicodeEncodeError("utf-8", row[0], 0, 1, "surrogates not allowed")
        if row[0] in self.invalid:
            return FakeFuture(InvalidRequest("CQL Message of size 17825931 bytes exceeds ..."))
        if self.failures > 0:
            self.failures -= 1
            return FakeFuture(TRANSIENT)
        self.rows[row[0]] = row
        return FakeFuture(None)


def writer_with(session: FakeSession, retry_timeout_s: float = 5.0) -> RecsWriter:
    writer = RecsWriter(CassandraSettings(("h",), 1, "ks", max_in_flight=2,
                                          retry_timeout_s=retry_timeout_s))  # fmt: skip
    writer._session = session
    return writer


def rec(user: str, event_id: str, emitted: int, seen: int = 1, event_ts: int = 1) -> Recommendation:
    items = [ScoredItem("i1", 0.5)]
    return Recommendation(event_id, user, items, "1", "m", None, event_ts, emitted, seen)


def test_newest_answer_per_user_is_written_at_its_emission_time() -> None:
    session = FakeSession()
    written = writer_with(session).write(
        [rec("u1", "a", 10, seen=1), rec("u2", "b", 10), rec("u1", "c", 10, seen=2),
         # A late event (older event time) processed last is the freshest answer: it was
         # computed from state that holds every earlier event.
         rec("u2", "late", 10, seen=2, event_ts=0)]
    )  # fmt: skip
    assert written == 2
    assert session.rows["u1"][3] == "c"
    assert session.rows["u2"][3] == "late"
    assert session.rows["u1"][-1] == 10_002  # USING TIMESTAMP, microseconds: ms + sequence
    assert session.rows["u1"][1] == [("i1", 0.5)]


def test_write_time_orders_a_users_answers_and_repeats_for_the_same_answer() -> None:
    # Two batches of one user in the same millisecond: the later event wins.
    assert write_time(rec("u", "b", 7, seen=5)) > write_time(rec("u", "a", 7, seen=4))
    # Any later millisecond beats every sequence number of an earlier one.
    assert write_time(rec("u", "b", 8, seen=1000)) > write_time(rec("u", "a", 7, seen=999))
    # A replay after a restart is emitted later, so its row replaces the first attempt's.
    assert write_time(rec("u", "a", 9, seen=4)) > write_time(rec("u", "a", 7, seen=4))
    # The same answer twice has the same write time (frozen list: the same row).
    assert write_time(rec("u", "a", 7, seen=4)) == write_time(rec("u", "a", 7, seen=4))


def test_transient_failures_are_retried_until_they_succeed() -> None:
    session = FakeSession(failures=3)
    writer = writer_with(session)
    assert writer.write([rec("u1", "a", 1), rec("u2", "b", 2)]) == 2
    assert set(session.rows) == {"u1", "u2"}
    assert session.calls == 5
    assert (writer.retries, writer.rows_written, writer.rows_rejected) == (3, 2, 0)


def test_transient_failures_past_the_budget_fail_the_task_within_the_budget() -> None:
    session = FakeSession(failures=10**6)
    started = time.monotonic()
    with pytest.raises(CassandraWriteError, match=r"still failing after 0\.5 s"):
        writer_with(session, retry_timeout_s=0.5).write([rec("u", "a", 1)])
    assert time.monotonic() - started < 0.6
    # No attempt may outlive the budget: each is cut to the time left.
    assert max(session.timeouts[1:]) <= 0.5


def test_permanent_errors_are_not_retried_and_the_batch_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = FakeSession(failures=1, invalid={"big"}, unencodable={"bad"})
    writer = writer_with(session)
    batch = [rec("u1", "a", 1), rec("big", "b", 1), rec("bad", "c", 1), rec("u2", "d", 1)]
    with caplog.at_level(logging.ERROR):
        assert writer.write(batch) == 2
    assert set(session.rows) == {"u1", "u2"}
    assert session.calls == 5  # 4 rows, one transient retry; no retry of a rejected row
    assert (writer.rows_rejected, writer.rows_written) == (2, 2)
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "rejected 2 of 4" in line


def test_a_rejected_value_is_shortened_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    huge = "x" * 100_000
    with caplog.at_level(logging.ERROR):
        writer_with(FakeSession(unencodable={huge})).write([rec(huge, "a", 1)])
    assert max(len(r.getMessage()) for r in caplog.records) < 1000


def test_start_sends_at_most_max_in_flight_and_finish_sends_and_settles_the_rest() -> None:
    session = FakeSession(failures=1)
    writer = writer_with(session)  # max_in_flight=2
    pending = writer.start([rec("u1", "a", 1), rec("u2", "b", 2), rec("u3", "c", 3)])
    assert session.calls == 2
    assert writer.finish(pending) == 3
    assert set(session.rows) == {"u1", "u2", "u3"}  # the one failed write was retried


@pytest.mark.parametrize(
    "error",
    [
        InvalidRequest("Out of bound timestamp"),
        Unauthorized("no"),
        SyntaxException(0x2000, "bad", None),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        TypeError("Received an argument of invalid type"),
        OverflowError("int too big"),
    ],
)
def test_errors_a_retry_cannot_fix_are_permanent(error: Exception) -> None:
    assert is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        OperationTimedOut("Client request timeout"),
        WriteTimeout("timeout", write_type=WriteType.SIMPLE),
        Unavailable("not enough replicas"),
        NoHostAvailable("Unable to complete the operation against any hosts", {}),
        ConnectionShutdown("defunct"),
        OverloadedErrorMessage(0x1001, "overloaded", None),
        PreparedQueryNotFound(0x2500, "re-prepare", b"id"),
        RuntimeError("anything unknown"),
    ],
)
def test_other_errors_are_transient(error: Exception) -> None:
    assert not is_permanent(error)
