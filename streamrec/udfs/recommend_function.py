"""The scoring operator: keyed user state + broadcast model/rules + batched scoring.

One ``KeyedBroadcastProcessFunction`` keyed by user id. Per event it only appends a flat
row to the user's ``pending`` ListState and, once per user per round, registers a timer at
the round's end (udfs.timer_rounds explains why this is checkpoint-safe). When a round's
timers fire, each user's pending events are folded into its features (keyed ValueState
with TTL, one read and one write per user per round), and at the round's last timer the
whole batch goes to the scoring worker (scoring.worker), a Python process of its own that
scores it (retrieve -> filter -> rank -> order), serializes every record and writes the
newest answer per user to Cassandra; the operator emits the records and returns only when
the rows are written. The model and rules come in on the broadcast side (udfs.serving)
and change only between batches, so every batch is scored by exactly one model version,
which each output names.

Why this design (docs/architecture.md, "The hot path", has the whole table). Draining a
20,000-event backlog at 10K items on the 2-core machine with the whole stack:

==============================================================  ==============
design                                                          events/s
==============================================================  ==============
all in this operator, in the TaskManager's interpreter (before) 273 - 859
+ scoring in its own process, rounds on 20 ms clock ticks        420 - 470
+ rounds opened by the first event, stretched to scoring time    656 - 1,043
  (this one)
  as above, batches pipelined (next round read while scoring)    569 - 889
  as above, parallelism 2 (two workers)                          708
==============================================================  ==============

Pipelining and a second worker add no CPU to a 2-core machine that Kafka, Cassandra and
the TaskManager share; the profile shows the worker's scoring as the largest consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedBroadcastProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from streamrec.contracts.event import Event
from streamrec.contracts.feedback import parse_feedback
from streamrec.contracts.recommendation import STRATEGIES
from streamrec.contracts.trending import InvalidTrendingError, parse_trending
from streamrec.job_config.settings import Batching, Scoring, ServingLog, Topics, UserState
from streamrec.scoring.batch_answer import BatchRequest
from streamrec.scoring.popularity import FALLBACK_VERSION
from streamrec.scoring.worker import WorkerSettings
from streamrec.scoring.worker_client import ScoringWorker
from streamrec.sinks.cassandra import CassandraSettings
from streamrec.state import user_state
from streamrec.state.features import UserFeatures, default_spec, update
from streamrec.udfs.feedback_metrics import FeedbackMetrics
from streamrec.udfs.model_intake import IntakeSettings
from streamrec.udfs.serving import Latin1Store, Outcome, Serving, internal_error
from streamrec.udfs.timer_rounds import TimerRounds

log = logging.getLogger(__name__)

OUTPUT_TYPE = Types.ROW_NAMED(
    ["user_id", "value", "topic"], [Types.STRING(), Types.STRING(), Types.STRING()]
)
"""Key, record and the Kafka topic it goes to: ``recommendations`` or, for the
serving-features record of a logged recommendation (scoring.serving_log),
``serving-features``; split per topic in the JVM (jobs.recommend says why not a side
output)."""
RECORD_TYPE = Types.ROW_NAMED(["user_id", "value"], [Types.STRING(), Types.STRING()])
"""One topic's rows of OUTPUT_TYPE, as each Kafka sink takes them."""
CONTROL_TYPE = Types.ROW_NAMED(["kind", "payload"], [Types.STRING(), Types.STRING()])
"""Broadcast side: kind ``model`` (a signed model reference), ``rules``, ``trending`` (the
job's own trending query, one scope's list) or ``feedback`` (the job's feedback query, one
window's counts of one model version); payload is the Kafka value decoded as
ISO-8859-1, which maps every byte to one character and back losslessly."""
# Rejection reasons counted per kind (``rejected.<kind>.<reason>``); see udfs.serving.Outcome.
REJECTION_REASONS = {
    "model": (
        "bad_reference",
        "bad_signature",
        "artifact_unavailable",
        "artifact_too_large",
        "artifact_digest_mismatch",
        "bad_package",
        "internal_error",
        "other",
    ),
    "rules": ("bad_rules", "internal_error", "other"),
}
# Values are bytes as ISO-8859-1 text (see serving.Latin1Store).
SERVING_STATE = MapStateDescriptor("serving", Types.STRING(), Types.STRING())


@dataclass(frozen=True)
class RecommendSettings:
    """The job's config groups this operator uses (job_config.settings has each field's default and
    why), plus what the submitting client resolved: Cassandra's address and the keys."""

    scoring: Scoring = field(default_factory=Scoring)
    """What the scoring worker computes, with which interpreter and threads."""
    batching: Batching = field(default_factory=Batching)
    """``max_batch`` events per scoring call at most; ``max_delay_ms`` is the round length."""
    state: UserState = field(default_factory=UserState)
    """State TTL and feature half-life."""
    cassandra: CassandraSettings | None = None
    model_intake: IntakeSettings = field(default_factory=IntakeSettings)
    """Publisher keys, package cache and caps for model references (udfs.model_intake)."""
    serving_log: ServingLog = field(default_factory=ServingLog)
    """Which users' serving features are logged."""
    topics: Topics = field(default_factory=Topics)
    """Where each output row goes (OUTPUT_TYPE's ``topic``)."""

    def worker_settings(self) -> WorkerSettings:
        scoring = self.scoring
        return WorkerSettings(
            k=scoring.k,
            num_candidates=scoring.num_candidates,
            retrieval_backend=scoring.retrieval_backend,
            feature_spec=default_spec(self.state.half_life_ms),
            package_limits=self.model_intake.package_limits,
            cassandra=self.cassandra,
            tf_threads=scoring.tf_threads,
            cold_start_events=scoring.cold_start_events,
            trending_candidates=scoring.trending_candidates,
            trending_slots=scoring.trending_slots,
            serving_features_rate=self.serving_log.rate,
        )


class RecommendFunction(KeyedBroadcastProcessFunction):
    def __init__(self, settings: RecommendSettings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        s = self.settings
        self.features = runtime_context.get_state(user_state.features_descriptor(s.state.ttl_days))
        self.engaged = runtime_context.get_state(user_state.engaged_descriptor(s.state.ttl_days))
        self.pending = runtime_context.get_list_state(user_state.pending_descriptor())
        self.legacy_pending = runtime_context.get_list_state(user_state.legacy_pending_descriptor())
        self.worker = ScoringWorker(s.worker_settings(), s.scoring.python)
        self.worker.start()
        self.serving = Serving(
            default_spec(s.state.half_life_ms),
            loader=self.worker.load_model,
            rules_sink=self.worker.set_rules,
            intake=s.model_intake,
        )
        self.rounds = TimerRounds(s.batching.max_delay_ms)
        self.batch: list[tuple[Event, UserFeatures]] = []
        self._register_metrics(runtime_context.get_metrics_group())

    def close(self) -> None:
        self.worker.close()

    def process_element(self, value: Row, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext):
        # Per event only a flat row into keyed state and at most one timer: the fold into
        # the features happens once per user per tick, when the timer fires.
        if self.batch:
            # Unreachable if TimerRounds is right; flushing beats holding events in memory.
            self._restore_serving(ctx)
            self.missed_round_ends.inc()
            log.error("a timer round ended unnoticed; flushing %d events", len(self.batch))
            yield from self._flush()
        self.pending.add(user_state.pending_from_event_row(value))
        self.events_in.inc()
        tick = self.rounds.schedule(value[1], int(time.time() * 1000))
        if tick is not None:
            ctx.timer_service().register_processing_time_timer(tick)

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext):
        self._restore_serving(ctx)
        user_id = ctx.get_current_key()
        ours = self.rounds.owns(user_id, timestamp)
        if not ours:
            # A timer restored from a checkpoint: its events may be in the older format.
            self._drain_legacy_pending(user_id)
        self._fold_pending(user_id)
        round_ended = self.rounds.fired(user_id, timestamp)
        if self.batch and (round_ended or len(self.batch) >= self.settings.batching.max_batch):
            yield from self._flush()

    def _fold_pending(self, user_id: str) -> None:
        """Fold the user's pending events into its features, one snapshot per event (two
        events of one user in one batch get two different recommendations). The engaged-item
        history is a keyed state of its own: one more read and write per user per round."""
        features = user_state.features_from_row(self.features.value(), self.engaged.value())
        folded = 0
        for row in self.pending.get():
            try:
                event = user_state.pending_from_row(user_id, row)
                features = update(features, event, self.serving.category_of,
                                  half_life_ms=self.settings.state.half_life_ms)  # fmt: skip
            except Exception:
                # The parser let it through, so this is a bug; raising would replay this
                # event (and fail) forever behind every other user's events. Not a side
                # output to the DLQ: PyFlink adds a Python map for a side output, chained
                # into this task, and a second interpreter thread state on the task's
                # thread deadlocked the first Keras import (pybind11 init, seen with py-spy).
                self.events_failed.inc()
                log.exception("event %s could not be folded into user state; skipped", row)
                continue
            self.batch.append((event, features))
            folded += 1
        if folded:
            self.features.update(user_state.features_to_row(features))
            self.engaged.update(user_state.engaged_to_row(features))
        self.pending.clear()

    def _drain_legacy_pending(self, user_id: str) -> None:
        legacy = self.legacy_pending.get()
        if legacy is None:
            return
        rows = list(legacy)
        if rows:
            self.batch.extend(user_state.legacy_pending_from_row(user_id, r) for r in rows)
            self.legacy_pending.clear()

    def _restore_serving(self, ctx: Any) -> None:
        """After a (re)start, serve what broadcast state holds; keyed callbacks call this
        because ``open`` cannot read broadcast state; so does the broadcast side, first."""
        if self.serving.needs_restore:
            self.serving.restore(Latin1Store(ctx.get_broadcast_state(SERVING_STATE)))

    def process_broadcast_element(self, value: Row, ctx: KeyedBroadcastProcessFunction.Context):
        if value[0] == "trending":
            self._on_trending(value[1])
            return
        if value[0] == "feedback":
            self._on_feedback(value[1])
            return
        outcome: Outcome
        try:
            # What state holds is served before this record is looked at (restore first).
            self._restore_serving(ctx)
            store = Latin1Store(ctx.get_broadcast_state(SERVING_STATE))
            payload = value[1]
            raw = payload.encode("latin-1") if isinstance(payload, str) else payload
            outcome = self.serving.handle(value[0], raw, store)
        except Exception as ex:  # no control record may fail the job
            outcome = internal_error("model" if value[0] == "model" else "rules", ex)
        if outcome.accepted:
            log.info("%s", outcome.message)
        else:
            (self.models_rejected if outcome.kind == "model" else self.rules_rejected).inc()
            by_reason = self.rejections[outcome.kind]
            by_reason.get(outcome.reason, by_reason["other"]).inc()
            log.error("%s [%s]; the previous %s keeps serving", outcome.message, outcome.reason,
                      outcome.kind)  # fmt: skip

    def _on_trending(self, payload: str | None) -> None:
        """A scope's newest trending list (jobs.trending_sql, read back from the trending
        topic) to the scoring worker, which answers new users with it and writes it to
        Cassandra. Not kept in broadcast state: the source's offsets are in every checkpoint,
        so a restored job reads the lists again from the topic."""
        try:
            raw = (payload or "").encode("latin-1")  # the record's bytes (CONTROL_TYPE)
            trending = parse_trending(raw)
            self.worker.set_trending(trending.scope, raw)
        except InvalidTrendingError as ex:
            self.trending_rejected.inc()
            log.error("trending record rejected: %s", ex)
            return
        except Exception as ex:  # no control record may fail the job
            self.trending_rejected.inc()
            log.exception("trending record could not be applied: %s", type(ex).__name__)
            return
        self.trending_lists.inc()
        self._trending_window_end = max(self._trending_window_end, trending.window_end)

    def _on_feedback(self, payload: str | None) -> None:
        """One window's feedback counts (jobs.feedback_sql): to the metrics, per model
        version, and through the scoring worker to Cassandra's feedback_by_version."""
        try:
            raw = (payload or "").encode("latin-1")  # the record's bytes (CONTROL_TYPE)
            counts = parse_feedback(raw)
            self.worker.write_feedback(raw)
        except Exception as ex:  # no control record may fail the job
            self.feedback_rejected.inc()
            log.error("feedback record not applied: %s: %s", type(ex).__name__, ex)
            return
        self._feedback.add(counts)

    def _flush(self) -> Iterator[Row]:
        """Score the drained events in the worker and emit its records (see scoring.worker)."""
        batch, self.batch = self.batch, []
        started = time.perf_counter()
        answer = self.worker.score(
            BatchRequest([event for event, _ in batch], [after for _, after in batch])
        )
        if answer.scoring_error is not None:
            self.scoring_errors.inc()
            log.error("model %s failed on a batch of %d, answered by popularity: %s",
                      self._model_version_text(), len(batch), answer.scoring_error)  # fmt: skip
        self._candidates_per_event = answer.candidates_after
        self._last_batch = len(batch)
        self._last_score_ms = (time.perf_counter() - started) * 1000
        self.rounds.scored_in(self._last_score_ms)
        self.batches.inc()
        self.recs_out.inc(len(answer.values))
        for strategy, count in answer.strategies.items():
            counter = self.answered_by.get(strategy)
            if counter is not None:
                counter.inc(count)
        # The worker writes Cassandra while these travel to Kafka; ``written`` returns inside
        # this timer callback, before any checkpoint barrier can be handled (sinks.cassandra).
        topics = self.settings.topics
        for user_id, value in zip(answer.user_ids, answer.values, strict=True):
            yield Row(user_id=user_id, value=value, topic=topics.recommendations)
        logged = answer.features
        for user_id, value in zip(logged.user_ids, logged.values, strict=True):
            yield Row(user_id=user_id, value=value, topic=topics.serving_features)
        self.features_logged.inc(len(logged.values))
        self.features_dropped.inc(logged.dropped)
        report = self.worker.written()
        self._last_cassandra_ms = report.wait_ms
        self._cassandra_rows_rejected = report.rows_rejected
        self._cassandra_retries = report.retries

    def _answering_version(self) -> str:
        """The model_version new answers carry (the fallback's before any model)."""
        model = self.serving.model
        return model.version if model is not None else FALLBACK_VERSION

    def _model_version_text(self) -> str:
        model = self.serving.model
        return model.version if model is not None else "none"

    def _register_metrics(self, group: Any) -> None:
        """Everything here shows under the operator in the REST API and the dashboard."""
        self._last_batch = 0
        self._last_score_ms = 0.0
        self._last_cassandra_ms = 0.0
        # Of the last batch, per stage; empty when the fallback answered it.
        self._candidates_per_event: dict[str, int] = {}
        self.events_in = group.counter("eventsIn")
        self.recs_out = group.counter("recommendationsOut")
        # Serving-features records emitted, and those over the size bound (not logged).
        self.features_logged = group.counter("servingFeaturesOut")
        self.features_dropped = group.counter("servingFeaturesDropped")
        self.batches = group.counter("batches")
        self.models_rejected = group.counter("modelsRejected")
        self.rules_rejected = group.counter("rulesRejected")
        rejected = group.add_group("rejected")
        self.rejections = {
            kind: {reason: rejected.add_group(kind).counter(reason) for reason in reasons}
            for kind, reasons in REJECTION_REASONS.items()
        }
        self.missed_round_ends = group.counter("missedRoundEnds")
        self.scoring_errors = group.counter("scoringErrors")
        self.events_failed = group.counter("eventsFailed")
        # Which strategy answered each event (contracts.recommendation.STRATEGIES).
        answered_by = group.add_group("answeredBy")
        self.answered_by = {s: answered_by.counter(s) for s in STRATEGIES}
        self.trending_lists = group.counter("trendingLists")
        self.feedback_rejected = group.counter("feedbackRejected")
        self._feedback = FeedbackMetrics(group.add_group("feedback"), self._answering_version)
        self.trending_rejected = group.counter("trendingRejected")
        self._trending_window_end = 0
        # Event time up to which trending is known (the newest list's window end).
        group.gauge("trendingWindowEnd", lambda: self._trending_window_end)
        group.gauge("batchSize", lambda: self._last_batch)
        group.gauge("scoringLatencyMicros", lambda: int(self._last_score_ms * 1000))
        # What the last batch still waited for Cassandra after emitting its answers.
        group.gauge("cassandraWriteLatencyMicros", lambda: int(self._last_cassandra_ms * 1000))
        group.gauge("timersWaiting", lambda: self.rounds.waiting)
        # Rows Cassandra refused for good (bad request: skipped, the answer is on Kafka) and
        # transient-error retries, over the scoring worker's life.
        self._cassandra_rows_rejected = 0
        self._cassandra_retries = 0
        group.gauge("cassandraRowsRejected", lambda: self._cassandra_rows_rejected)
        group.gauge("cassandraRetries", lambda: self._cassandra_retries)
        group.gauge("scoringWorkerRestarts", lambda: self.worker.restarts)
        group.gauge("modelVersion", self._model_version_gauge)
        for stage in ("retrieved", "filtered", "returned"):
            group.gauge(
                f"candidatesPerEvent_{stage}",
                lambda stage=stage: self._candidates_per_event.get(stage, 0),
            )

    def _model_version_gauge(self) -> int:
        """Numeric MLflow version serving; 0 for the popularity fallback."""
        model = self.serving.model
        if model is None:
            return 0
        try:
            return int(model.version)
        except ValueError:
            return -1
