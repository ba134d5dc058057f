from pathlib import Path

from streamrec.bench import report


def _system(rate: float, p99s: tuple[float, float, float], cassandra: bool) -> dict:
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
    return {"max_sustainable_rate": rate, "capacity": rate * 1.2, "latency": points}


def _catalog() -> dict:
    catalog = {
        "n_items": 10_000,
        "model_version": "10000",
        "limit": {"events_per_s": 2000.0, "batch_size": 256, "call_ms": {"p50": 120.0}},
        "limit_per_event": {"events_per_s": 150.0},
        "systems": {
            report.JOB: _system(1000, (30, 40, 80), cassandra=True),
            report.JOB_ALO: _system(1100, (30, 40, 80), cassandra=True),
            report.PER_EVENT: _system(100, (10, 20, 30), cassandra=False),
            report.MICRO_BATCH: _system(1600, (25, 35, 50), cassandra=False),
        },
    }
    catalog["ratios"] = report.ratios(catalog)
    catalog["targets"] = report.targets(catalog)
    return catalog


def test_ratios_compare_the_exactly_once_job_with_each_baseline() -> None:
    r = _catalog()["ratios"]
    assert r["job/(a)"] == 10.0
    assert r["job/(b)"] == 0.625
    assert r["job/(c)"] == 0.5
    assert r["overhead_vs_(c)"] == 0.5
    assert r["job_at_least_once/(c)"] == 0.55


def test_targets_report_measured_values_and_verdicts() -> None:
    t = _catalog()["targets"]
    assert t["events_per_s >= 20000"] == {"measured": 1000, "met": False}
    assert t["p99 event->Cassandra at 50% <= 50 ms"] == {"measured": 40, "met": True}
    assert t["job/(a) >= 5"]["met"] is True
    assert t["overhead vs (c) <= 30%"] == {"measured": 0.5, "met": False}


def test_missing_systems_give_no_ratio_rather_than_an_error() -> None:
    catalog = _catalog()
    del catalog["systems"][report.PER_EVENT]
    assert report.ratios(catalog)["job/(a)"] is None
    catalog["ratios"] = report.ratios(catalog)
    assert report.targets(catalog)["job/(a) >= 5"] == {"measured": None, "met": None}


def test_table_lists_every_system_and_target() -> None:
    text = report.table(_catalog())
    for name in (report.JOB, report.JOB_ALO, report.PER_EVENT, report.MICRO_BATCH):
        assert name in text
    assert "target job/(a) >= 5: 10 -> met" in text
    assert "target events_per_s >= 20000: 1000 -> NOT met" in text


def test_json_and_plot_are_written(tmp_path: Path) -> None:
    results = {"catalogs": [_catalog(), {**_catalog(), "n_items": 100_000}]}
    report.write_json(results, tmp_path / "out" / "results.json")
    report.plot(results, tmp_path / "out" / "plot.png")
    assert (tmp_path / "out" / "results.json").stat().st_size > 0
    assert (tmp_path / "out" / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
