import pytest

from streamrec.bench.measure import (
    burst_rate,
    drain_rate,
    lag_growth,
    percentiles,
    ratio,
    sustainable,
)


def test_percentiles_interpolate_and_handle_empty() -> None:
    assert percentiles(list(range(1, 101))) == {"p50": 50.5, "p95": 95.0, "p99": 99.0}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_drain_rate_ignores_start_up_and_stragglers() -> None:
    # 1,000 outputs at 500/s, after a 5 s start-up gap and before one late straggler.
    times = [0] + [5000 + 2 * i for i in range(1000)] + [60_000]
    assert drain_rate(times) == pytest.approx(500, rel=0.01)


def test_drain_rate_needs_enough_outputs() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        drain_rate([1, 2, 3])


def test_a_burst_answered_over_time_is_timed_by_its_drain() -> None:
    times = [0] + [5000 + 2 * i for i in range(1000)] + [60_000]
    assert burst_rate(times, sent_ms=-100) == pytest.approx(500, rel=0.01)


def test_a_burst_answered_in_one_bundle_is_timed_by_the_wall_clock() -> None:
    # 200 answers in two bundles 40 ms apart, 800 ms after sending: the drain's middle
    # spans 40 ms and would read as 3,500/s; sending to last answer says 250/s.
    times = [1760] * 100 + [1800] * 100
    assert drain_rate(times) == pytest.approx(3500)
    assert burst_rate(times, sent_ms=1000) == pytest.approx(250)


def test_lag_growth_is_zero_when_keeping_up_and_the_backlog_share_otherwise() -> None:
    flat = [(t / 4, 50 + (t % 2)) for t in range(40)]
    assert abs(lag_growth(flat, rate=100)) < 0.01
    # In 100/s, out 75/s: the lag grows by 25 events per second.
    growing = [(t / 4, 25 * t / 4) for t in range(40)]
    assert lag_growth(growing, rate=100) == pytest.approx(0.25)


def test_lag_growth_uses_the_second_half_only() -> None:
    # A warm-up backlog that is worked off, then flat: the system keeps up.
    samples = [(t / 4, max(0, 200 - 20 * t)) for t in range(40)]
    assert lag_growth(samples, rate=100) == pytest.approx(0.0)


def test_lag_growth_rejects_too_few_samples() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        lag_growth([(0.0, 1), (1.0, 2)], rate=10)


def test_sustainable_needs_flat_lag_and_a_small_remainder() -> None:
    assert sustainable(0.01, final_lag=20, rate=100)
    assert not sustainable(0.05, final_lag=20, rate=100)
    assert not sustainable(0.0, final_lag=150, rate=100)


def test_ratio() -> None:
    assert ratio(300, 100) == 3.0
    assert ratio(None, 100) is None
    assert ratio(300, 0) is None
