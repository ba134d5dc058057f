"""Write the latest recommendation per user into Cassandra's ``recs_by_user``.

There is no Flink Cassandra connector for Flink 2.x, so this is plain ``cassandra-driver``
called from the scoring operator. The operator ``start``s a batch's writes, emits the
batch downstream while they travel, then ``finish``es them before its timer callback
returns. A checkpoint barrier is handled only between callbacks, so a checkpoint never
covers a recommendation whose row is not in Cassandra (DESIGN rule 1).

Idempotent, whole rows
    One INSERT per user carries the whole answer; ``ranked`` is a frozen list (one cell,
    migration 0003), so writing the same row twice at the same write time leaves the same
    row, and a single-partition write is applied all or nothing.

Write time (``USING TIMESTAMP``)
    ``emitted_ts`` in microseconds plus ``events_seen % 1000``. Processing time, not event
    time: a replay after a restart rewrites the row later than the attempt it replaces, so
    the row ends up equal to the answer that was committed to Kafka, not to whichever of two
    attempts compares larger cell by cell (they may differ, e.g. when a model swap lands at
    another point of the replay). Event ts cannot freeze a row either (a ts 23 h ahead used
    to). ``events_seen`` counts one user's events, so two batches of one user in the same
    millisecond still order, and a replay of an event keeps its offset.

Errors: permanent ones are skipped, transient ones retried for a bounded time
    - Permanent (``InvalidRequest`` and the other request-validation errors, and values
      the driver cannot serialize, e.g. a lone surrogate or an int out of range): a retry
      cannot fix them, so the row is not written, the user's row keeps its previous answer,
      and the rejection is counted (``rows_rejected``) and logged; the rest of the batch goes
      on. The answer is still on Kafka.
    - Anything else (timeouts, ``Unavailable``, ``NoHostAvailable``, a closed connection,
      overload) is retried with backoff. Each attempt has ``request_timeout_s`` (3 s, above
      Cassandra's 2 s ``write_request_timeout``, so the server's own answer arrives first),
      and all attempts together at most ``retry_timeout_s`` (5 s) counted from ``finish``.
      Then ``CassandraWriteError`` fails the task: Flink restarts from the last checkpoint,
      the Kafka transaction of the failed attempt is aborted, and the replay rewrites the
      rows, so nothing is lost, and no checkpoint waits behind a writer for more than ~5 s
      (it used to be 60 s plus a 10 s request timeout). Dropping the rows instead would
      keep Kafka output flowing during an outage but break rule 1.

    Measured with the stack's Cassandra 5.0.9 on a 2-core machine, defaults as above: a
    batch to a stopped Cassandra fails the task after 4.5 s (``NoHostAvailable`` at once,
    retried after 0.1, 0.2, 0.4, 0.8, 1, 1, 1 s); to a hung one (SIGSTOP) after 5.0 s (a
    3 s attempt, then one cut to the 1.9 s left). Permanent: a row with a lone surrogate is
    rejected in the client (``UnicodeEncodeError``) in 9 ms; a 17 MiB row by the server in
    0.26 s ("CQL Message of size 17825931 bytes exceeds allowed maximum of 16777216 bytes",
    ``InvalidRequest``); an 8 MiB row is stored. tests/integration/test_cassandra.py checks
    the hung case and the rejections on the real node. The price of the bound: with
    Cassandra stopped for 30 s while events flow (test_operations), the job restarted 9
    times and answered again 38 s after Cassandra was back (restart backoff up to 10 s plus
    a PyFlink restart), with exactly one answer per event and every row current.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from streamrec.contracts.feedback import FeedbackCounts, FeedbackRecord
from streamrec.contracts.recommendation import Recommendation
from streamrec.contracts.trending import TrendingList
from streamrec.errors import StreamrecError

log = logging.getLogger(__name__)

INSERT_CQL = (
    "INSERT INTO {keyspace}.recs_by_user "
    "(user_id, ranked, model_version, event_id, event_ts, emitted_ts, strategy) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
FEEDBACK_CQL = (
    "INSERT INTO {keyspace}.feedback_by_version (model_version, window_start, rules_version, "
    "strategy, window_end, impressions, clicks, adds, purchases, ctr) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
HIT_RATE_CQL = (
    "INSERT INTO {keyspace}.feedback_by_version (model_version, window_start, rules_version, "
    "strategy, window_end, recommendations, hits, hit_k, hit_rate) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"
)
TRENDING_CQL = (
    "INSERT INTO {keyspace}.trending_by_scope (scope, ranked, window_start, window_end) "
    "VALUES (?, ?, ?, ?) USING TIMESTAMP ?"
)
SEQUENCE_SLOTS = 1000
"""Microseconds of a millisecond given to a user's event sequence number."""


class CassandraWriteError(StreamrecError):
    """Rows could not be written within the retry budget."""


@dataclass(frozen=True)
class CassandraSettings:
    hosts: tuple[str, ...]
    port: int
    keyspace: str
    max_in_flight: int = 128
    retry_timeout_s: float = 5.0
    """How long ``finish`` may keep retrying one batch before it fails the task."""
    request_timeout_s: float = 3.0
    """One attempt; above Cassandra's write_request_timeout (2 s) so its answer comes first."""


@cache
def _permanent_types() -> tuple[type[BaseException], ...]:
    from cassandra import RequestValidationException
    from cassandra.protocol import RequestValidationException as ValidationMessage

    return (
        RequestValidationException,  # InvalidRequest, Unauthorized, ConfigurationException
        ValidationMessage,  # SyntaxException and friends, as raised by the driver
        # Raised while binding, before anything is sent: a value the driver cannot encode.
        TypeError,
        ValueError,  # UnicodeEncodeError (lone surrogates) included
        OverflowError,
        struct.error,
    )


def is_permanent(error: BaseException) -> bool:
    """True when sending the same row again cannot succeed."""
    from cassandra.protocol import PreparedQueryNotFound

    if isinstance(error, PreparedQueryNotFound):  # the driver re-prepares; worth a retry
        return False
    return isinstance(error, _permanent_types())


@dataclass
class PendingWrite:
    """One batch's writes between ``start`` and ``finish``."""

    unsent: list[tuple]
    in_flight: list[tuple[tuple, Any]] = field(default_factory=list)
    failed: list[tuple] = field(default_factory=list)
    rejected: list[tuple[tuple, BaseException]] = field(default_factory=list)
    last_error: BaseException | None = None
    rows: int = 0

    def __post_init__(self) -> None:
        self.rows = len(self.unsent)


class RecsWriter:
    """One per scoring subtask; ``open`` connects, ``close`` shuts the driver down.

    ``rows_written``, ``rows_rejected`` and ``retries`` count over the writer's life, for
    the operator's metrics.
    """

    def __init__(self, settings: CassandraSettings) -> None:
        self.settings = settings
        self._cluster: Any = None
        self._session: Any = None
        self._insert: Any = None
        self._insert_trending: Any = None
        self._insert_feedback: Any = None
        self._insert_hit_rate: Any = None
        self.rows_written = 0
        self.rows_rejected = 0
        self.retries = 0

    def open(self) -> None:
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
        from cassandra.policies import ConstantReconnectionPolicy, RoundRobinPolicy

        profile = ExecutionProfile(
            load_balancing_policy=RoundRobinPolicy(),
            request_timeout=self.settings.request_timeout_s,
        )
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
        # Fails here, at the task's start, if the keyspace lacks migrations 0003 (`ranked`),
        # 0004 (`strategy`, `trending_by_scope`), 0005 (`feedback_by_version`) and 0006
        # (its hit-rate columns).
        keyspace = self.settings.keyspace
        self._insert = self._session.prepare(INSERT_CQL.format(keyspace=keyspace))
        self._insert.is_idempotent = True
        self._insert_trending = self._session.prepare(TRENDING_CQL.format(keyspace=keyspace))
        self._insert_trending.is_idempotent = True
        self._insert_feedback = self._session.prepare(FEEDBACK_CQL.format(keyspace=keyspace))
        self._insert_feedback.is_idempotent = True
        self._insert_hit_rate = self._session.prepare(HIT_RATE_CQL.format(keyspace=keyspace))
        self._insert_hit_rate.is_idempotent = True

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None

    def write(self, recs: Sequence[Recommendation]) -> int:
        """Store the newest recommendation per user of ``recs``; return rows written."""
        return self.finish(self.start(recs))

    def write_trending(self, trending: TrendingList) -> None:
        """One scope's list, synchronously (one row per scope per slide)."""
        self._session.execute(
            self._insert_trending,
            (
                trending.scope,
                [(i.item_id, float(i.score)) for i in trending.items],
                trending.window_start,
                trending.window_end,
                trending.window_end * 1000,
            ),
            timeout=self.settings.request_timeout_s,
        )

    def write_feedback(self, record: FeedbackRecord) -> None:
        """One window's counts or hit rate of one (model version, rules version, strategy):
        each kind writes its own columns of the same row."""
        r = record
        key = (r.model_version, r.window_start, r.rules_version, r.strategy, r.window_end)
        if isinstance(r, FeedbackCounts):
            statement = self._insert_feedback
            values = (r.impressions, r.clicks, r.adds, r.purchases, r.ctr)
        else:
            statement = self._insert_hit_rate
            values = (r.recommendations, r.hits, r.hit_k, r.hit_rate)
        self._session.execute(
            statement, (*key, *values, r.window_end * 1000), timeout=self.settings.request_timeout_s
        )

    def start(self, recs: Sequence[Recommendation]) -> PendingWrite:
        """Send up to ``max_in_flight`` rows now (newest per user); ``finish`` does the rest."""
        latest: dict[str, Recommendation] = {}
        for rec in recs:
            held = latest.get(rec.user_id)
            if held is None or write_time(rec) >= write_time(held):
                latest[rec.user_id] = rec
        pending = PendingWrite([self._params(rec) for rec in latest.values()])
        while pending.unsent and len(pending.in_flight) < self.settings.max_in_flight:
            self._send(pending, pending.unsent.pop(), self.settings.request_timeout_s)
        return pending

    def finish(self, pending: PendingWrite) -> int:
        """Return the rows stored once every row of ``pending`` is stored or rejected as
        permanently invalid; raise ``CassandraWriteError`` if some still fail transiently
        after ``retry_timeout_s``."""
        deadline = time.monotonic() + self.settings.retry_timeout_s
        backoff = 0.1
        while True:
            self._drain(pending, deadline)
            if not pending.failed:
                break
            failed, pending.failed = pending.failed, []
            if time.monotonic() + backoff >= deadline:
                raise CassandraWriteError(
                    f"{len(failed)} of {pending.rows} recs_by_user writes still failing after "
                    f"{self.settings.retry_timeout_s:.1f} s: {brief(pending.last_error)}; the task "
                    "restarts from its last checkpoint and writes them again"
                )
            log.warning(
                "%d Cassandra writes failed (%s); retrying in %.1f s",
                len(failed),
                brief(pending.last_error),
                backoff,
            )
            self.retries += len(failed)
            time.sleep(backoff)
            backoff = min(backoff * 2, 1.0)
            pending.unsent = failed
        if pending.rejected:
            self._report_rejected(pending)
        written = pending.rows - len(pending.rejected)
        self.rows_written += written
        return written

    def _report_rejected(self, pending: PendingWrite) -> None:
        self.rows_rejected += len(pending.rejected)
        row, error = pending.rejected[0]
        # One line per batch, not per row: a schema change could reject every row.
        log.error(
            "Cassandra rejected %d of %d recs_by_user rows (not retried; those users keep "
            "their previous row), first: user %r, event %r: %s",
            len(pending.rejected),
            pending.rows,
            str(row[0])[:100],
            str(row[3])[:100],
            brief(error),
        )

    def _drain(self, pending: PendingWrite, deadline: float) -> None:
        """Send the unsent rows, at most max_in_flight outstanding, and settle them all."""
        while pending.unsent:
            if len(pending.in_flight) >= self.settings.max_in_flight:
                self._settle(pending.in_flight.pop(0), pending)
            # Each attempt ends by the deadline, so finish() does not outlive its budget.
            left = max(0.05, deadline - time.monotonic())
            self._send(pending, pending.unsent.pop(), min(self.settings.request_timeout_s, left))
        while pending.in_flight:
            self._settle(pending.in_flight.pop(0), pending)

    def _send(self, pending: PendingWrite, row: tuple, timeout_s: float) -> None:
        try:
            future = self._session.execute_async(self._insert, row, timeout=timeout_s)
        except Exception as ex:  # binding (permanent) or no connection (transient)
            self._failed(pending, row, ex)
            return
        pending.in_flight.append((row, future))

    def _settle(self, sent: tuple[tuple, Any], pending: PendingWrite) -> None:
        row, future = sent
        try:
            future.result()
        except Exception as ex:
            self._failed(pending, row, ex)

    @staticmethod
    def _failed(pending: PendingWrite, row: tuple, error: Exception) -> None:
        if is_permanent(error):
            pending.rejected.append((row, error))
        else:
            pending.failed.append(row)
            pending.last_error = error

    @staticmethod
    def _params(rec: Recommendation) -> tuple:
        return (
            rec.user_id,
            [(i.item_id, float(i.score)) for i in rec.items],
            rec.model_version,
            rec.event_id,
            rec.event_ts,
            rec.emitted_ts,
            rec.strategy,
            write_time(rec),
        )


def write_time(rec: Recommendation) -> int:
    """``USING TIMESTAMP`` of ``rec``'s row, in microseconds (see the module docstring)."""
    return rec.emitted_ts * 1000 + rec.events_seen % SEQUENCE_SLOTS


def brief(error: BaseException | None, limit: int = 300) -> str:
    """An error for a log line: its repr can carry the whole offending value."""
    text = repr(error)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"
