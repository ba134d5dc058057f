"""Baseline (c): the scoring path alone on in-memory batches; no Kafka, no Flink, no state.

The features are those the job would score for the same traffic (folded per user, in
order) and are built before the clock starts; only ``score_batch`` is timed. It runs in
the benchmark's own process, so its figure and the job's come from the same run.
"""

from __future__ import annotations

import time
from typing import Any

from streamrec.bench.catalog import Catalog, feature_batches
from streamrec.bench.measure import percentiles
from streamrec.scoring.pipeline import ScoringConfig, score_batch


def scoring_limit(
    catalog: Catalog,
    batch_size: int,
    events: int,
    config: ScoringConfig,
    model: Any = None,
) -> dict[str, Any]:
    """Events per second and per-call milliseconds of ``score_batch`` at ``batch_size``."""
    model = model or catalog.load()
    batches = list(feature_batches(catalog, events, batch_size, int(time.time() * 1000)))
    for warm in batches[:2]:  # index build and graph tracing, as the job does before serving
        score_batch(model, warm, config)
    calls_ms = []
    started = time.perf_counter()
    for batch in batches:
        call = time.perf_counter()
        score_batch(model, batch, config)
        calls_ms.append((time.perf_counter() - call) * 1000)
    elapsed = time.perf_counter() - started
    scored = sum(len(b) for b in batches)
    return {
        "batch_size": batch_size,
        "events": scored,
        "events_per_s": round(scored / elapsed, 1),
        "call_ms": percentiles(calls_ms),
    }
