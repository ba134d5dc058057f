"""The arithmetic of the benchmark: percentiles, drain rates, and "is the lag growing"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 95, 99)


def percentiles(values_ms: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 (linear interpolation); None each when there are no values."""
    if not values_ms:
        return {f"p{q}": None for q in PERCENTILES}
    array = np.asarray(values_ms, dtype=np.float64)
    return {f"p{q}": round(float(np.percentile(array, q)), 1) for q in PERCENTILES}


# The middle of a drain, by output order: leaves out start-up and the last stragglers.
DRAIN_LOW, DRAIN_HIGH = 0.2, 0.9


def drain_rate(
    out_times_ms: Sequence[int], low: float = DRAIN_LOW, high: float = DRAIN_HIGH
) -> float:
    """Records per second of a backlog being drained, from the output timestamps.

    Only the middle of the run counts (``low`` to ``high`` of the records, by output
    order), which leaves out start-up and the stragglers of the last batches.
    """
    count, span_s = _middle(out_times_ms, low, high)
    return count / max(span_s, 1e-3)


def _middle(out_times_ms: Sequence[int], low: float, high: float) -> tuple[int, float]:
    """Records between the ``low`` and ``high`` shares of the outputs, and their span."""
    times = np.sort(np.asarray(out_times_ms, dtype=np.float64))
    if len(times) < 10:
        raise ValueError(f"need at least 10 outputs to time a drain, got {len(times)}")
    first, last = int(low * (len(times) - 1)), int(high * (len(times) - 1))
    return last - first, (times[last] - times[first]) / 1000


# Below this the middle of a burst came out in a bundle or two: its timestamps cannot
# time a drain (200 answers in one bundle read as 140,000/s).
MIN_DRAIN_SPAN_S = 0.25


def burst_rate(out_times_ms: Sequence[int], sent_ms: float) -> float:
    """Records per second of a burst sent at ``sent_ms``: the drain rate when the middle of
    the answers spans at least ``MIN_DRAIN_SPAN_S``, else the wall rate from sending to
    the last answer (lower, since it includes the first answer's latency, and never absurd).
    """
    count, span_s = _middle(out_times_ms, DRAIN_LOW, DRAIN_HIGH)
    if span_s >= MIN_DRAIN_SPAN_S:
        return count / span_s
    return len(out_times_ms) / max((max(out_times_ms) - sent_ms) / 1000, 1e-3)


def lag_growth(samples: Sequence[tuple[float, int]], rate: float) -> float:
    """Growth of the lag (events in, not yet answered) as a share of the input rate.

    ``samples`` are (seconds, lag) pairs taken while the input ran at ``rate``. The slope
    of a least-squares line through the second half of them, over the rate: 0 when the
    system keeps up, 0.25 when a quarter of the input piles up.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    half = samples[len(samples) // 2 :]
    if len(half) < 3:
        raise ValueError(f"need at least 6 lag samples, got {len(samples)}")
    t = np.array([s for s, _ in half], dtype=np.float64)
    lag = np.array([v for _, v in half], dtype=np.float64)
    if np.ptp(t) == 0:
        raise ValueError("lag samples must span some time")
    slope = float(np.polyfit(t, lag, 1)[0])
    return slope / rate


def sustainable(growth: float, final_lag: int, rate: float, tolerance: float = 0.03) -> bool:
    """The system kept up: the lag grew by less than ``tolerance`` of the input, and what
    was left at the end is under one second of input."""
    return bool(growth < tolerance and final_lag < rate)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)
