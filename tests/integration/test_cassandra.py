"""Cassandra on the real node: the migrated serving tables and prepared statements."""

from __future__ import annotations

from streamrec.stack.config import HOST, StackConfig
from streamrec.stack.cql_client import connect
from streamrec.stack.migrations import apply_migrations, load_migrations


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


def test_recs_by_user_holds_scored_items(stack_config: StackConfig, unique_name: str) -> None:
    """The serving table's UDT list round-trips through the driver."""
    keyspace = stack_config.keyspace
    with connect(HOST, stack_config.cassandra_port, keyspace) as session:
        insert = session.prepare(
            "INSERT INTO recs_by_user (user_id, items, model_version, event_id) VALUES (?, ?, ?, ?)"
        )
        session.execute(insert, (unique_name, [("item-1", 0.9), ("item-2", 0.5)], "v1", "e1"))
        row = session.execute(
            "SELECT items, model_version FROM recs_by_user WHERE user_id = %s", (unique_name,)
        ).one()
        assert [(i.item_id, i.score) for i in row.items] == [("item-1", 0.9), ("item-2", 0.5)]
        assert row.model_version == "v1"
        session.execute("DELETE FROM recs_by_user WHERE user_id = %s", (unique_name,))
