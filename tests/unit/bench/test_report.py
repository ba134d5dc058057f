from pathlib import Path

from streamrec.bench import report


def _system(
    rate: float,
    p99s: tuple[float, float, float],
    cassandra: bool,
    limits: tuple[float, float] = (2000.0, 2500.0),
) -> dict:
    points = []
    for fraction, p99 in zip((0.25, 0.5, 0.75), p99s, strict=True):
        pct = {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99}
        point = {
            "fraction": fraction,
            "rate": rate * fraction,
            "achieved_rate": rate * fraction,
            "emitted_ms": pct,
            "delivered_ms": pct,
            "readable_ms": pct,
        }
        if cassandra:
            point["cassandra_ms"] = pct
        points.append(point)
    return {
        "max_sustainable_rate": rate,
        "capacity": rate * 1.2,
        "latency": points,
        "limit_before": limits[0],
        "limit_after": limits[1],
    }


def _limit_run(when: str, rate: float) -> dict:
    return {
        "when": when,
        "batch_size": 256,
        "events_per_s": rate,
        "call_ms": {"p50": 120.0},
        "loadavg_start": (0.5, 0.4, 0.3),
        "loadavg_end": (0.6, 0.4, 0.3),
    }


def _catalog(n_items: int = 10_000, job_rate: float = 1000) -> dict:
    catalog = {
        "n_items": n_items,
        "model_version": str(n_items),
        "limit_runs": [
            _limit_run("at the start", 2000.0),
            _limit_run(f"after {report.JOB}", 2500.0),
            _limit_run(f"after {report.JOB_ALO}", 1000.0),
        ],
        "limit_per_event": {"events_per_s": 150.0},
        "systems": {
            report.JOB: _system(job_rate, (30, 40, 80), cassandra=True),
            report.JOB_ALO: _system(1100, (30, 160, 200), cassandra=True, limits=(2500, 1000)),
            report.PER_EVENT: _system(100, (10, 20, 30), cassandra=False),
            report.MICRO_BATCH: _system(500, (25, 35, 50), cassandra=False),
        },
    }
    catalog["ratios"] = report.ratios(catalog)
    catalog["targets"] = report.targets(catalog)
    return catalog


def test_ratios_compare_the_job_with_a_and_b() -> None:
    r = _catalog()["ratios"]
    assert r["job/(a)"] == 10.0
    assert r["job/(b)"] == 2.0


def test_every_system_is_compared_with_the_limit_before_and_after_it() -> None:
    r = _catalog()["ratios"]
    assert r["job/(c)before"] == 0.5
    assert r["job/(c)after"] == 0.4
    assert r["job at-least-once/(c)before"] == 0.44
    assert r["job at-least-once/(c)after"] == 1.1
    assert r["(a)/(c)before"] == 0.05
    assert r["(b)/(c)after"] == 0.2


def test_targets_report_measured_values_and_verdicts() -> None:
    t = _catalog()["targets"]
    # Met against the (c) before the job, not against the faster (c) after it.
    assert t["job/(c)before >= 0.5"] == {"measured": 0.5, "met": True}
    assert t["job/(c)after >= 0.5"] == {"measured": 0.4, "met": False}
    assert t["job/(b) >= 1.5"] == {"measured": 2.0, "met": True}
    assert t["p99 event->Cassandra at 50% <= 100 ms"] == {"measured": 40, "met": True}
    assert t["p99 event->emitted at 50% <= 100 ms"] == {"measured": 40, "met": True}
    assert t["at-least-once p99 event->readable at 50% <= 150 ms"] == {
        "measured": 160,
        "met": False,
    }


def test_missing_systems_give_no_ratio_rather_than_an_error() -> None:
    catalog = _catalog()
    del catalog["systems"][report.MICRO_BATCH]
    del catalog["systems"][report.JOB_ALO]
    assert report.ratios(catalog)["job/(b)"] is None
    catalog["ratios"] = report.ratios(catalog)
    targets = report.targets(catalog)
    assert targets["job/(b) >= 1.5"] == {"measured": None, "met": None}
    name = "at-least-once p99 event->readable at 50% <= 150 ms"
    assert targets[name] == {"measured": None, "met": None}


def test_a_system_without_limit_measurements_has_no_limit_ratio() -> None:
    catalog = _catalog()
    del catalog["systems"][report.JOB]["limit_after"]
    assert report.ratios(catalog)["job/(c)after"] is None


def test_scaling_compares_each_larger_catalogue_with_the_first() -> None:
    small, large = _catalog(), _catalog(100_000, job_rate=850)
    scaled = report.scaling([small, large])
    assert scaled["job/(c)before at 100000 items within 20% of 10000"] == {
        "measured": -0.15,
        "met": True,
    }
    drifted = report.scaling([small, _catalog(100_000, job_rate=700)])
    assert drifted["job/(b) at 100000 items within 20% of 10000"]["met"] is False
    assert report.scaling([small]) == {}


def test_table_lists_every_limit_run_system_ratio_and_target() -> None:
    text = report.table(_catalog())
    for name in (report.JOB, report.JOB_ALO, report.PER_EVENT, report.MICRO_BATCH):
        assert name in text
    assert f"after {report.JOB_ALO}" in text
    assert "0.50/0.40/0.30" in text  # the load average beside each (c) run
    assert "sys/(c)before" in text and "sys/(c)after" in text
    assert "target job/(c)after >= 0.5: 0.4 -> NOT met" in text
    assert "target job/(b) >= 1.5: 2 -> met" in text


def test_json_and_plot_are_written(tmp_path: Path) -> None:
    results = {"catalogs": [_catalog(), _catalog(100_000)]}
    report.write_json(results, tmp_path / "out" / "results.json")
    report.plot(results, tmp_path / "out" / "plot.png")
    assert (tmp_path / "out" / "results.json").stat().st_size > 0
    assert (tmp_path / "out" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
