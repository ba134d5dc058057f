"""The CQL migrations: order, idempotent statements, and what an upgrade applies."""

from __future__ import annotations

import re
from typing import Any

from streamrec.stack.migrations import apply_migrations, load_migrations


class FakeSession:
    """Records statements; answers the bookkeeping table from the versions recorded."""

    def __init__(self, recorded: set[int] = frozenset()) -> None:
        self.recorded = set(recorded)
        self.executed: list[str] = []

    def execute(self, statement: str, params: tuple = ()) -> list[Any]:
        if statement.startswith("SELECT version FROM"):
            return [type("Row", (), {"version": v}) for v in self.recorded]
        if "INTO ks.schema_migrations" in statement:
            self.recorded.add(params[0])
        else:
            self.executed.append(statement)
        return []


IDEMPOTENT = re.compile(
    r"^(CREATE (KEYSPACE|TABLE|TYPE) IF NOT EXISTS"
    r"|ALTER TABLE \S+ (ADD IF NOT EXISTS|DROP IF EXISTS)"
    r"|TRUNCATE)\b",
    re.IGNORECASE,
)


def test_every_statement_can_run_twice() -> None:
    """A migration interrupted half way runs again whole (see migrations.py)."""
    for migration in load_migrations("ks"):
        for statement in migration.statements:
            assert IDEMPOTENT.match(statement), f"{migration.name}: {statement}"


def test_an_existing_keyspace_gets_only_the_upgrades_after_it() -> None:
    session = FakeSession(recorded={1, 2})
    assert apply_migrations(session, "ks") == [
        "0003_recs_written_whole.cql",
        "0004_trending_and_strategy.cql",
        "0005_feedback_by_version.cql",
        "0006_hit_rate.cql",
    ]
    upgrade = session.executed[len(load_migrations("ks")[0].statements) :]
    assert upgrade[:3] == [
        "ALTER TABLE ks.recs_by_user ADD IF NOT EXISTS ranked frozen<list<frozen<scored_item>>>",
        "ALTER TABLE ks.recs_by_user DROP IF EXISTS items",
        "TRUNCATE TABLE ks.recs_by_user",
    ]
    assert upgrade[3] == "ALTER TABLE ks.recs_by_user ADD IF NOT EXISTS strategy text"
    assert upgrade[4].startswith("CREATE TABLE IF NOT EXISTS ks.trending_by_scope")
    assert upgrade[5].startswith("CREATE TABLE IF NOT EXISTS ks.feedback_by_version")
    assert upgrade[6:] == [
        f"ALTER TABLE ks.feedback_by_version ADD IF NOT EXISTS {column}"
        for column in ("recommendations bigint", "hits bigint", "hit_k int", "hit_rate double")
    ]
    assert apply_migrations(session, "ks") == []


def test_a_new_keyspace_runs_every_migration_once_in_order() -> None:
    session = FakeSession()
    names = apply_migrations(session, "ks")
    assert names == [m.name for m in load_migrations("ks")]
    assert session.recorded == {m.version for m in load_migrations("ks")}
    assert apply_migrations(session, "ks") == []
