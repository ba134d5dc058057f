"""Cassandra on the real node: migrations, prepared statements, the serving table writer."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from streamrec.contracts.recommendation import Recommendation
from streamrec.contracts.scored_item import ScoredItem
from streamrec.sinks.cassandra import CassandraSettings, CassandraWriteError, RecsWriter
from streamrec.stack import process
from streamrec.stack.config import HOST, StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.launcher import Stack
from streamrec.stack.migrations import apply_migrations, load_migrations

K = 5


def test_migrations_created_serving_tables_once(stack_config: StackConfig) -> None:
    with connect(HOST, stack_config.cassandra_port) as session:
        rows = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
            (stack_config.keyspace,),
        )
        tables = {row.table_name for row in rows}
        assert {"recs_by_user", "user_features", "schema_migrations"} <= tables
        # Running them again applies nothing: each version is recorded.
        assert apply_migrations(session, stack_config.keyspace) == []
        recorded = {
            row.version
            for row in session.execute(
                f"SELECT version FROM {stack_config.keyspace}.schema_migrations"
            )
        }
        assert recorded == {m.version for m in load_migrations(stack_config.keyspace)}


def test_prepared_statement_write_and_read_back(
    stack_config: StackConfig, unique_name: str
) -> None:
    with connect(HOST, stack_config.cassandra_port) as session:
        session.execute(
            f"CREATE KEYSPACE {unique_name} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        try:
            session.execute(
                f"CREATE TABLE {unique_name}.kv (k text PRIMARY KEY, v double, tags list<text>)"
            )
            insert = session.prepare(f"INSERT INTO {unique_name}.kv (k, v, tags) VALUES (?, ?, ?)")
            select = session.prepare(f"SELECT v, tags FROM {unique_name}.kv WHERE k = ?")
            for i in range(20):
                session.execute(insert, (f"user-{i}", i * 0.5, [f"item-{i}", "x"]))
            # An upsert with the same key replaces the row (idempotent writes).
            session.execute(insert, ("user-3", 99.0, ["replaced"]))
            row = session.execute(select, ("user-3",)).one()
            assert (row.v, row.tags) == (99.0, ["replaced"])
            row = session.execute(select, ("user-7",)).one()
            assert (row.v, row.tags) == (3.5, ["item-7", "x"])
            assert session.execute(f"SELECT count(*) FROM {unique_name}.kv").one().count == 20
        finally:
            session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")


def test_an_existing_keyspace_is_upgraded_to_whole_lists(
    stack_config: StackConfig, unique_name: str
) -> None:
    """A keyspace made by 0001-0002 (``items`` non-frozen, a replayed row doubled in it)
    gets ``ranked`` and loses ``items`` and its rows; an interrupted upgrade runs again."""
    with connect(HOST, stack_config.cassandra_port) as session:
        try:
            for migration in load_migrations(unique_name)[:2]:
                for statement in migration.statements:
                    session.execute(statement)
                session.execute(
                    f"INSERT INTO {unique_name}.schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            old_row = (
                f"INSERT INTO {unique_name}.recs_by_user (user_id, items, event_id) "
                "VALUES ('u', [('a', 1.0), ('b', 0.5)], 'e') USING TIMESTAMP 1000"
            )
            session.execute(old_row)
            session.execute(old_row)  # the same write again: what a replay did
            doubled = session.execute(f"SELECT items FROM {unique_name}.recs_by_user").one()
            assert len(doubled.items) == 4  # the bug 0003 removes

            later = [m.name for m in load_migrations(unique_name)[2:]]
            assert later[0] == "0003_recs_written_whole.cql"
            assert apply_migrations(session, unique_name) == later
            columns = {
                row.column_name: row.type
                for row in session.execute(
                    "SELECT column_name, type FROM system_schema.columns "
                    "WHERE keyspace_name = %s AND table_name = 'recs_by_user'",
                    (unique_name,),
                )
            }
            assert columns["ranked"] == "frozen<list<frozen<scored_item>>>"
            assert "items" not in columns
            assert list(session.execute(f"SELECT * FROM {unique_name}.recs_by_user")) == []
            assert apply_migrations(session, unique_name) == []
            # Crashed before its record was written: every statement runs again harmlessly.
            session.execute(f"DELETE FROM {unique_name}.schema_migrations WHERE version = 3")
            assert apply_migrations(session, unique_name) == ["0003_recs_written_whole.cql"]
        finally:
            session.execute(f"DROP KEYSPACE IF EXISTS {unique_name}")


@pytest.fixture
def writer(stack_config: StackConfig) -> Iterator[RecsWriter]:
    # A short budget keeps the hung-node test short; the logic is the one the job runs.
    settings = CassandraSettings(
        (HOST,), stack_config.cassandra_port, stack_config.keyspace,
        retry_timeout_s=2.0, request_timeout_s=1.0,
    )  # fmt: skip
    writer = RecsWriter(settings)
    writer.open()
    try:
        yield writer
    finally:
        writer.close()


def rec(
    user: str, event_id: str, items: list[ScoredItem], emitted_ts: int = 1_000
) -> Recommendation:
    return Recommendation(event_id, user, items, "v1", "m", None, 1, emitted_ts, events_seen=3)


def top_k(prefix: str = "item") -> list[ScoredItem]:
    return [ScoredItem(f"{prefix}-{n}", 1.0 / (n + 1)) for n in range(K)]


def read_row(config: StackConfig, user: str) -> Any:
    with connect(HOST, config.cassandra_port, config.keyspace) as session:
        return session.execute(
            "SELECT ranked, event_id, model_version, writetime(event_id) AS written "
            "FROM recs_by_user WHERE user_id = %s",
            (user,),
        ).one()


def test_the_same_row_written_twice_at_the_same_time_is_the_same_row(
    stack_config: StackConfig, writer: RecsWriter, unique_name: str
) -> None:
    for _ in range(2):  # a replay, or a retry whose first attempt had landed
        assert writer.write([rec(unique_name, "e1", top_k())]) == 1
    row = read_row(stack_config, unique_name)
    assert [(i.item_id, i.score) for i in row.ranked] == [(i.item_id, i.score) for i in top_k()]
    assert (row.event_id, row.model_version, row.written) == ("e1", "v1", 1_000_003)
    # A later answer replaces the list whole; an older write time never does.
    writer.write([rec(unique_name, "e2", top_k("new"), emitted_ts=2_000)])
    writer.write([rec(unique_name, "e0", top_k("old"), emitted_ts=500)])
    row = read_row(stack_config, unique_name)
    assert row.event_id == "e2" and [i.item_id for i in row.ranked] == [
        i.item_id for i in top_k("new")
    ]


def test_rows_cassandra_can_never_take_are_skipped_and_counted(
    stack_config: StackConfig, writer: RecsWriter, unique_name: str
) -> None:
    lone_surrogate = [ScoredItem("bad\ud800", 1.0)]  # refused by the driver's encoder
    too_large = [ScoredItem("x" * 17 * 2**20, 1.0)]  # refused by the server: 16 MiB max
    good = [f"{unique_name}-ok-{n}" for n in range(3)]
    batch = [
        rec(good[0], "a", top_k()), rec(f"{unique_name}-bad", "b", lone_surrogate),
        rec(good[1], "c", top_k()), rec(f"{unique_name}-big", "d", too_large),
        rec(good[2], "e", top_k()),
    ]  # fmt: skip
    started = time.monotonic()
    assert writer.write(batch) == 3
    assert writer.rows_rejected == 2 and writer.retries == 0
    assert time.monotonic() - started < 2.0  # well inside the budget: nothing was retried
    for user in good:
        assert len(read_row(stack_config, user).ranked) == K
    assert read_row(stack_config, f"{unique_name}-big") is None


def test_a_hung_cassandra_fails_the_batch_within_the_retry_budget(
    stack: Stack, writer: RecsWriter, unique_name: str
) -> None:
    """Then the task restarts from its last checkpoint, instead of holding the barrier."""
    pids = stack.status(["cassandra"])[0].pids
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        # A signal is delivered when the target is next scheduled: write only once every
        # process of the node shows state T, or a busy machine lets the write through.
        _wait_until_stopped(pids)
        started = time.monotonic()
        with pytest.raises(CassandraWriteError, match="still failing"):
            written = writer.write([rec(unique_name, "e1", top_k())])
            print(f"written {written}, rejected {writer.rows_rejected}, node {_states(pids)}")
        elapsed = time.monotonic() - started
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    print(f"hung Cassandra: batch failed after {elapsed:.2f} s (budget 2.0 s)")
    assert 1.0 <= elapsed < 2.5


def _states(pids: list[int]) -> dict[int, str]:
    return {pid: (fields[0] if (fields := process.live_stat(pid)) else "gone") for pid in pids}


def _wait_until_stopped(pids: list[int], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (states := _states(pids)) and any(state != "T" for state in states.values()):
        assert time.monotonic() < deadline, f"Cassandra did not stop on SIGSTOP: {states}"
        time.sleep(0.01)
