"""One batch of events in, one serialized recommendation per event out.

What the scoring worker does with a batch the operator drained: score every event's
features with one model version (or popularity before any model, or when the model
fails on the batch), and build every output record at once, so no per-event Python runs
on the TaskManager beyond the state update.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from streamrec.contracts.event import Event
from streamrec.contracts.recommendation import Recommendation
from streamrec.contracts.rules import RuleSet
from streamrec.contracts.scored_item import ScoredItem
from streamrec.model_package.package import LoadedModel
from streamrec.scoring.cold_start import TrendingBoard, trending_answers
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.scoring.popularity import FALLBACK_VERSION, PopularityFallback
from streamrec.scoring.serving_log import FeatureRecords, feature_records
from streamrec.scoring.trending_mix import known_trending_rows, mix_fresh
from streamrec.state.features import FeatureSpec, UserFeatures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRequest:
    """Events in arrival order, each with the user's features right after it."""

    events: Sequence[Event]
    features: Sequence[UserFeatures]
    fallback_only: bool = False
    """Answer with popularity without touching the model (the retry after a worker crash)."""


@dataclass(frozen=True)
class TrendingUse:
    """What the trending lists do for a batch: answer users with no history
    (scoring.cold_start), and add candidates and new items to the model's lists
    (scoring.trending_mix)."""

    board: TrendingBoard
    category_of: Mapping[str, str]
    """The served model's catalogue categories (empty without a model: ``all`` only)."""
    max_events: int
    candidates: int = 0
    fresh_slots: int = 0


@dataclass(frozen=True)
class FeatureLog:
    """Which users' serving features are logged (scoring.serving_log), and under which spec."""

    spec: FeatureSpec
    rate: float
    """Share of users logged, 0 to 1 (job_config.settings.ServingLog)."""


@dataclass
class BatchAnswer:
    user_ids: list[str]
    values: list[str]
    """The ``recommendations`` record of each event, JSON, in request order."""
    model_version: str
    scoring_error: str | None = None
    """Why the model did not answer this batch (popularity did), if it failed."""
    candidates_after: dict[str, int] = field(default_factory=dict)
    """Per event, candidates left after each stage; empty when popularity answered."""
    strategies: dict[str, int] = field(default_factory=dict)
    """Events answered per strategy (contracts.recommendation.STRATEGIES)."""
    fresh_items: int = 0
    """Items unknown to the model put into its lists from trending (scoring.trending_mix)."""
    score_ms: float = 0.0
    recommendations: list[Recommendation] = field(default_factory=list, repr=False)
    """The records themselves, for the Cassandra writer (not sent back over the pipe)."""
    features: FeatureRecords = field(default_factory=lambda: FeatureRecords([], []))
    """The serving-features record of each logged recommendation, JSON, in request order."""


def answer_batch(
    request: BatchRequest,
    model: LoadedModel | None,
    rules: RuleSet | None,
    fallback: PopularityFallback,
    k: int,
    num_candidates: int,
    backend: str,
    trending: TrendingUse | None = None,
    feature_log: FeatureLog | None = None,
) -> BatchAnswer:
    started = time.perf_counter()
    for event in request.events:
        fallback.observe(event)
    features = list(request.features)
    lists: list[list[ScoredItem]] | None = None
    error = None
    stages: dict[str, int] = {}
    if model is not None and not request.fallback_only and features:
        known = model.vectorizer.item_index
        config = ScoringConfig(
            k=k,
            num_candidates=num_candidates,
            backend=backend,
            rules=rules.filters if rules is not None else None,
            overlay=rules.overlay if rules is not None else None,
            extra_rows=(
                known_trending_rows(trending.board, known, trending.candidates)
                if trending is not None and trending.candidates > 0
                else None
            ),
        )
        try:
            result = score_batch(model, features, config)
        except Exception as ex:
            # The package verified and loaded, so this is a bug or a model that fails only on
            # some inputs; re-raising would replay the same batch forever.
            error = f"{type(ex).__name__}: {str(ex)[:300]}"
            log.exception("model %s failed on a batch of %d; answered by popularity",
                          model.version, len(features))  # fmt: skip
        else:
            lists = result.recommendations
            stages = {s: total // len(features) for s, total in result.candidates_after.items()}
    if lists is None or model is None:
        lists = fallback.recommend(features, k)
        version, name, strategy = FALLBACK_VERSION, None, "popularity"
    else:
        version, name, strategy = model.version, model.model_name, "model"
    strategies = [strategy] * len(features)
    lists = list(lists)
    fresh = 0
    if trending is not None:
        filters = rules.filters if rules is not None else None
        if strategy == "model" and model is not None:
            fresh = mix_fresh(request.events, features, lists, trending.board,
                              model.vectorizer.item_index, trending.category_of, k,
                              trending.fresh_slots, filters)  # fmt: skip
        answers = trending_answers(request.events, features, trending.board,
                                   trending.category_of, k, trending.max_events,
                                   filters)  # fmt: skip
        for position, items in answers.items():
            lists[position], strategies[position] = items, "trending"
    emitted = int(time.time() * 1000)
    rules_version = rules.version if rules is not None else None
    recs = [
        Recommendation(
            event_id=event.event_id,
            user_id=event.user_id,
            items=items,
            model_version=version,
            model_name=name,
            rules_version=rules_version,
            event_ts=event.ts,
            emitted_ts=emitted,
            events_seen=sum(after.event_counts.values()),
            strategy=answered_by,
        )
        for event, after, items, answered_by in zip(
            request.events, features, lists, strategies, strict=True
        )
    ]
    logged = (
        feature_records(recs, request.events, features, feature_log.spec, feature_log.rate)
        if feature_log is not None
        else FeatureRecords([], [])
    )
    return BatchAnswer(
        user_ids=[r.user_id for r in recs],
        values=[r.to_json() for r in recs],
        features=logged,
        model_version=version,
        scoring_error=error,
        candidates_after=stages,
        strategies=dict(Counter(strategies)),
        fresh_items=fresh,
        score_ms=(time.perf_counter() - started) * 1000,
        recommendations=recs,
    )
