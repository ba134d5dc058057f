"""A short-lived CQL session for admin work (health checks, migrations, tests)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def connect(host: str, port: int, keyspace: str | None = None) -> Iterator[Any]:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import RoundRobinPolicy

    # The driver logs every failed connection attempt at WARNING; during a
    # health-check loop that is noise, the launcher reports failures itself.
    logging.getLogger("cassandra").setLevel(logging.ERROR)
    # Schema changes on a freshly started node can take seconds: allow 30 s.
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    cluster = Cluster(
        [host],
        port=port,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=5,
    )
    try:
        session = cluster.connect(keyspace)
        yield session
    finally:
        cluster.shutdown()
