"""Write the latest recommendations per user into Cassandra's ``recs_by_user``.

There is no Flink Cassandra connector for Flink 2.x, so this is plain ``cassandra-driver``
called from the scoring operator. The operator ``start``s a batch's writes, emits the
batch downstream while they travel, then ``finish``es them (every row stored) before its
timer callback returns. A checkpoint barrier is handled only between callbacks, so a
checkpoint never covers a recommendation whose row is not in Cassandra.

- Prepared statement, asynchronous execution, at most ``max_in_flight`` requests at once.
- Idempotent upserts with ``USING TIMESTAMP`` = the trigger's event time: a replay after a
  failure rewrites the same cell, and a late event never overwrites a newer answer.
- Failed writes are retried with exponential backoff until ``retry_timeout_s``; then
  ``CassandraWriteError`` fails the task and Flink restarts it from the last checkpoint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from streamrec.contracts.recommendation import Recommendation
from streamrec.errors import StreamrecError

log = logging.getLogger(__name__)

INSERT_CQL = (
    "INSERT INTO {keyspace}.recs_by_user "
    "(user_id, items, model_version, event_id, event_ts, emitted_ts) "
    "VALUES (?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)


class CassandraWriteError(StreamrecError):
    """Rows could not be written within the retry budget."""


@dataclass(frozen=True)
class CassandraSettings:
    hosts: tuple[str, ...]
    port: int
    keyspace: str
    max_in_flight: int = 128
    retry_timeout_s: float = 60.0
    """How long one batch may keep retrying, e.g. through a Cassandra restart."""


@dataclass
class PendingWrite:
    """One batch's writes between ``start`` and ``finish``."""

    unsent: list[tuple]
    in_flight: list[tuple[tuple, Any]] = field(default_factory=list)
    failed: list[tuple] = field(default_factory=list)
    last_error: Exception | None = None
    rows: int = 0

    def __post_init__(self) -> None:
        self.rows = len(self.unsent)


class RecsWriter:
    """One per scoring subtask; ``open`` connects, ``close`` shuts the driver down."""

    def __init__(self, settings: CassandraSettings) -> None:
        self.settings = settings
        self._cluster: Any = None
        self._session: Any = None
        self._insert: Any = None

    def open(self) -> None:
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import ConstantReconnectionPolicy, RoundRobinPolicy

        profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=10)
        self._cluster = Cluster(
            list(self.settings.hosts),
            port=self.settings.port,
            protocol_version=5,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            # Reconnect quickly after a node restart; the retry loop below waits for it.
            reconnection_policy=ConstantReconnectionPolicy(delay=1.0, max_attempts=None),
            connect_timeout=10,
        )
        self._session = self._cluster.connect()
        self._insert = self._session.prepare(INSERT_CQL.format(keyspace=self.settings.keyspace))
        self._insert.is_idempotent = True

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None

    def write(self, recs: Sequence[Recommendation]) -> int:
        """Store the newest recommendation per user of ``recs``; return rows written."""
        return self.finish(self.start(recs))

    def start(self, recs: Sequence[Recommendation]) -> PendingWrite:
        """Send up to ``max_in_flight`` rows now (newest per user); ``finish`` does the rest."""
        latest: dict[str, Recommendation] = {}
        for rec in recs:
            held = latest.get(rec.user_id)
            if held is None or rec.event_ts >= held.event_ts:
                latest[rec.user_id] = rec
        pending = PendingWrite([self._params(rec) for rec in latest.values()])
        while pending.unsent and len(pending.in_flight) < self.settings.max_in_flight:
            self._send(pending, pending.unsent.pop())
        return pending

    def finish(self, pending: PendingWrite) -> int:
        """Return once every row of ``pending`` is stored, retrying failures with backoff;
        raise ``CassandraWriteError`` when they still fail after ``retry_timeout_s``."""
        deadline = time.monotonic() + self.settings.retry_timeout_s
        backoff = 0.1
        while True:
            self._drain(pending)
            if not pending.failed:
                return pending.rows
            failed, pending.failed = pending.failed, []
            if time.monotonic() + backoff > deadline:
                raise CassandraWriteError(
                    f"{len(failed)} of {pending.rows} recs_by_user writes still failing after "
                    f"{self.settings.retry_timeout_s:.0f} s: {pending.last_error}"
                )
            log.warning(
                "%d Cassandra writes failed (%s); retrying in %.1f s",
                len(failed),
                pending.last_error,
                backoff,
            )
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
            pending.unsent = failed

    def _drain(self, pending: PendingWrite) -> None:
        """Send the unsent rows, at most max_in_flight outstanding, and settle them all."""
        while pending.unsent:
            if len(pending.in_flight) >= self.settings.max_in_flight:
                self._settle(pending.in_flight.pop(0), pending)
            self._send(pending, pending.unsent.pop())
        while pending.in_flight:
            self._settle(pending.in_flight.pop(0), pending)

    def _send(self, pending: PendingWrite, row: tuple) -> None:
        try:
            pending.in_flight.append((row, self._session.execute_async(self._insert, row)))
        except Exception as ex:  # e.g. NoHostAvailable: retry it
            pending.failed.append(row)
            pending.last_error = ex

    @staticmethod
    def _settle(sent: tuple[tuple, Any], pending: PendingWrite) -> None:
        row, future = sent
        try:
            future.result()
        except Exception as ex:  # any failure of one write means: retry it
            pending.failed.append(row)
            pending.last_error = ex

    @staticmethod
    def _params(rec: Recommendation) -> tuple:
        return (
            rec.user_id,
            [(i.item_id, float(i.score)) for i in rec.items],
            rec.model_version,
            rec.event_id,
            rec.event_ts,
            rec.emitted_ts,
            rec.event_ts * 1000,  # microseconds: the write time Cassandra resolves with
        )
