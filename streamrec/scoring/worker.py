"""The scoring worker: a Python process of its own that scores the operator's batches.

The scoring operator runs in the TaskManager's embedded interpreter (thread mode), where
keyed state is cheap but every Python operator, the Cassandra driver's I/O thread and
TensorFlow's input binding share one interpreter lock with the JVM's calls into Python.
Measured there: a batch of 48 took 151 ms to score, against 13 ms for 64 in a plain
process (docs/architecture.md, "The hot path"). So the operator keeps what must be
per event and keyed (the state update) and hands each batch to this process, which has
an interpreter lock, TensorFlow and a Cassandra session of its own, and answers with the
serialized records. The operator waits for the answer inside its timer callback, so a
checkpoint still never covers a batch whose records and Cassandra rows are not written.

Protocol (frames of ``scoring.frames``; one request at a time, in order)::

    -> ("init", WorkerSettings)          <- ("ok", None)
    -> ("model", (package, sha256))      <- ("ok", ServedModel) | ("rejected", (reason, text))
    -> ("rules", rules bytes)            <- ("ok", version)
    -> ("trending", trending JSON bytes) <- ("ok", scope)
    -> ("feedback", feedback JSON bytes) <- ("ok", model version)
    -> ("score", BatchRequest)           <- ("scored", BatchAnswer), then
                                            ("written", WriteReport) | ("write_failed", text)

A rejected model leaves the previous one serving. Run: ``python -m streamrec.scoring``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from streamrec.contracts.feedback import parse_feedback
from streamrec.contracts.rules import RuleSet, parse_rules
from streamrec.contracts.trending import parse_trending
from streamrec.job_config.settings import Scoring
from streamrec.model_package.errors import ModelPackageError, rejection_reason
from streamrec.model_package.package import LoadedModel
from streamrec.model_package.package_limits import DEFAULT_LIMITS, PackageLimits
from streamrec.scoring.batch_answer import (
    BatchAnswer,
    BatchRequest,
    FeatureLog,
    TrendingUse,
    answer_batch,
)
from streamrec.scoring.cold_start import TrendingBoard
from streamrec.scoring.frames import WorkerGone, read_frame, write_frame
from streamrec.scoring.popularity import PopularityFallback
from streamrec.scoring.warm import load_warm, served
from streamrec.sinks.cassandra import CassandraSettings, CassandraWriteError, RecsWriter
from streamrec.state.features import FeatureSpec, default_spec

log = logging.getLogger("streamrec.scoring.worker")


@dataclass(frozen=True)
class WorkerSettings:
    """What one worker serves with; the defaults are the job's (job_config.settings.Scoring)."""

    k: int = Scoring.k
    num_candidates: int = Scoring.num_candidates
    retrieval_backend: str = Scoring.retrieval_backend
    feature_spec: FeatureSpec = field(default_factory=default_spec)
    package_limits: PackageLimits = DEFAULT_LIMITS
    cassandra: CassandraSettings | None = None
    tf_threads: int = Scoring.tf_threads
    """TensorFlow intra/inter-op threads; 0 leaves TensorFlow's default (one per core)."""
    cold_start_events: int = Scoring.cold_start_events
    """Users with at most this many events are answered from trending (scoring.cold_start)."""
    trending_candidates: int = Scoring.trending_candidates
    """Items trending now added to every user's candidates (scoring.trending_mix)."""
    trending_slots: int = Scoring.trending_slots
    """Places in a model's list for trending items the model has never seen."""
    serving_features_rate: float = 0.0
    """Share of users whose serving features are logged (job_config.settings.ServingLog;
    0 here so that a worker started outside the job logs nothing)."""


@dataclass
class WriteReport:
    wait_ms: float
    """What the batch still waited for Cassandra after its answer was sent."""
    rows_rejected: int
    retries: int


class Scorer:
    """The model, rules and popularity one worker serves, and what it does per request."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.model: LoadedModel | None = None
        self.rules: RuleSet | None = None
        self.fallback = PopularityFallback()
        self.trending = TrendingBoard()
        self.category_of: dict[str, str] = {}
        self.writer = RecsWriter(settings.cassandra) if settings.cassandra else None
        if self.writer is not None:
            self.writer.open()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def load_model(self, package: bytes, sha256: str) -> tuple[str, Any]:
        s = self.settings
        try:
            model = load_warm(package, sha256, s.feature_spec, s.package_limits,
                              s.retrieval_backend)  # fmt: skip
        except ModelPackageError as ex:
            # The operator prefixes "model rejected:" when it logs and counts it.
            return "rejected", (rejection_reason(ex), str(ex))
        self.model = model
        answer = served(model)
        self.category_of = dict(answer.category_of)
        return "ok", answer

    def set_rules(self, raw: bytes) -> tuple[str, Any]:
        rules = parse_rules(raw)  # the operator parsed these bytes already
        self.rules = rules
        return "ok", rules.version

    def set_trending(self, raw: bytes) -> tuple[str, Any]:
        """A scope's newest list: kept for new users, and written to Cassandra (derived data
        rewritten every slide, so a failed write is logged, not fatal)."""
        trending = parse_trending(raw)  # the operator parsed these bytes already
        if self.trending.put(trending) and self.writer is not None:
            try:
                self.writer.write_trending(trending)
            except Exception as ex:
                log.error("trending of %s not written to Cassandra: %s", trending.scope, ex)
        return "ok", trending.scope

    def write_feedback(self, raw: bytes) -> tuple[str, Any]:
        """One window's feedback counts or hit rate to Cassandra (derived data: a failure
        is logged)."""
        counts = parse_feedback(raw)  # the operator parsed these bytes already
        if self.writer is not None:
            try:
                self.writer.write_feedback(counts)
            except Exception as ex:
                log.error("feedback of %s not written to Cassandra: %s", counts.model_version, ex)
        return "ok", counts.model_version

    def answer(self, request: BatchRequest) -> BatchAnswer:
        s = self.settings
        trending = TrendingUse(self.trending, self.category_of, s.cold_start_events,
                               s.trending_candidates, s.trending_slots)  # fmt: skip
        logged = FeatureLog(s.feature_spec, s.serving_features_rate)
        return answer_batch(request, self.model, self.rules, self.fallback, s.k,
                            s.num_candidates, s.retrieval_backend, trending, logged)  # fmt: skip


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until the operator closes the pipe."""
    op, settings = read_frame(requests)
    if op != "init":
        raise ValueError(f"the first request must be init, got {op!r}")
    _limit_threads(settings.tf_threads)
    scorer = Scorer(settings)
    write_frame(replies, ("ok", None))
    try:
        while True:
            try:
                op, payload = read_frame(requests)
            except WorkerGone:
                return
            if op == "score":
                _score(scorer, payload, replies)
            elif op == "model":
                write_frame(replies, scorer.load_model(*payload))
            elif op == "rules":
                write_frame(replies, scorer.set_rules(payload))
            elif op == "trending":
                write_frame(replies, scorer.set_trending(payload))
            elif op == "feedback":
                write_frame(replies, scorer.write_feedback(payload))
            else:
                raise ValueError(f"unknown request {op!r}")
    finally:
        scorer.close()


def _score(scorer: Scorer, request: BatchRequest, replies: BinaryIO) -> None:
    answer = scorer.answer(request)
    writer = scorer.writer
    # Rows travel to Cassandra while the operator emits the answer to Kafka.
    pending = writer.start(answer.recommendations) if writer is not None else None
    write_frame(replies, ("scored", replace(answer, recommendations=[])))
    if writer is None or pending is None:
        write_frame(replies, ("written", WriteReport(0.0, 0, 0)))
        return
    started = time.perf_counter()
    try:
        writer.finish(pending)
    except CassandraWriteError as ex:
        write_frame(replies, ("write_failed", str(ex)))
        return
    wait_ms = (time.perf_counter() - started) * 1000
    write_frame(replies, ("written", WriteReport(wait_ms, writer.rows_rejected, writer.retries)))


def _limit_threads(threads: int) -> None:
    if threads > 0:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s scoring-worker[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
    )
    # The pipes are the protocol; anything printed must not land in them.
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=1 << 20)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 20)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(requests, replies)
