"""Apply the CQL migrations in ``streamrec/stack/cql/`` once each, in order.

Files are named ``NNNN_description.cql``; ``{keyspace}`` in a file is replaced
by the configured keyspace so tests can use a keyspace of their own. Applied
versions are recorded in ``<keyspace>.schema_migrations`` so that a migration
runs once. A migration interrupted half way (a crash, a timeout) is not recorded
and runs again from its first statement, so every statement must be idempotent
on its own: ``CREATE ... IF NOT EXISTS``, ``ALTER TABLE ... ADD IF NOT EXISTS`` /
``DROP IF EXISTS`` (Cassandra 5.0), ``TRUNCATE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from streamrec.stack.errors import StackError

KEYSPACE_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: list[str]


def load_migrations(keyspace: str) -> list[Migration]:
    if not KEYSPACE_PATTERN.match(keyspace):
        raise StackError(
            f"keyspace {keyspace!r} is not a valid CQL identifier: use letters, digits "
            "and underscores, starting with a letter (at most 48 characters)"
        )
    folder = resources.files("streamrec.stack") / "cql"
    migrations = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".cql"):
            continue
        version = int(entry.name.split("_", 1)[0])
        text = entry.read_text().replace("{keyspace}", keyspace)
        body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
        statements = [s.strip() for s in body.split(";") if s.strip()]
        migrations.append(Migration(version, entry.name, statements))
    return migrations


def apply_migrations(session: Any, keyspace: str) -> list[str]:
    """Run the migrations not yet recorded; return the names applied now."""
    migrations = load_migrations(keyspace)
    applied: list[str] = []
    first, rest = migrations[0], migrations[1:]
    # 0001 creates the keyspace and the bookkeeping table; it is idempotent by
    # construction (IF NOT EXISTS), so it can run before we can read the record.
    for statement in first.statements:
        session.execute(statement)
    done = {
        row.version for row in session.execute(f"SELECT version FROM {keyspace}.schema_migrations")
    }
    for migration in [first, *rest]:
        if migration.version in done:
            continue
        if migration is not first:
            for statement in migration.statements:
                session.execute(statement)
        session.execute(
            f"INSERT INTO {keyspace}.schema_migrations (version, name, applied_at) "
            "VALUES (%s, %s, toTimestamp(now()))",
            (migration.version, migration.name),
        )
        applied.append(migration.name)
    return applied
