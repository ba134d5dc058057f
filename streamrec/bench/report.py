"""The benchmark's results: ratios against the baselines, targets, a table, JSON and a plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamrec.bench.measure import ratio

JOB = "job exactly-once"
JOB_ALO = "job at-least-once"
PER_EVENT = "(a) per-event consumer"
MICRO_BATCH = "(b) micro-batch consumer"
LIMIT = "(c) score_batch alone"

TARGET_RATE = 20_000
TARGET_CASSANDRA_P99_MS = 50
TARGET_VS_PER_EVENT = 5.0
TARGET_MAX_OVERHEAD = 0.30


def ratios(catalog: dict[str, Any]) -> dict[str, float | None]:
    """Throughput ratios of the job (exactly-once, maximum sustainable rate)."""
    systems = catalog["systems"]
    job = _rate(systems.get(JOB))
    limit = catalog.get("limit", {}).get("events_per_s")
    vs_limit = ratio(job, limit)
    return {
        "job/(a)": ratio(job, _rate(systems.get(PER_EVENT))),
        "job/(b)": ratio(job, _rate(systems.get(MICRO_BATCH))),
        "job/(c)": vs_limit,
        "overhead_vs_(c)": None if vs_limit is None else round(1 - vs_limit, 3),
        "job_at_least_once/(c)": ratio(_rate(systems.get(JOB_ALO)), limit),
    }


def targets(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it is met (reported, not asserted)."""
    r = catalog["ratios"]
    job = catalog["systems"].get(JOB)
    half = _point(job, 0.5)
    cassandra_p99 = None if half is None else half.get("cassandra_ms", {}).get("p99")
    return {
        "events_per_s >= 20000": _target(_rate(job), lambda v: v >= TARGET_RATE),
        "p99 event->Cassandra at 50% <= 50 ms": _target(
            cassandra_p99, lambda v: v <= TARGET_CASSANDRA_P99_MS
        ),
        "job/(a) >= 5": _target(r["job/(a)"], lambda v: v >= TARGET_VS_PER_EVENT),
        "overhead vs (c) <= 30%": _target(r["overhead_vs_(c)"], lambda v: v <= TARGET_MAX_OVERHEAD),
    }


def _target(value: float | None, check: Any) -> dict[str, Any]:
    return {"measured": value, "met": None if value is None else bool(check(value))}


def _rate(system: dict[str, Any] | None) -> float | None:
    return None if system is None else system["max_sustainable_rate"]


def _point(system: dict[str, Any] | None, fraction: float) -> dict[str, Any] | None:
    if system is None:
        return None
    return next((p for p in system["latency"] if p["fraction"] == fraction), None)


def table(catalog: dict[str, Any]) -> str:
    """A plain-text summary of one catalogue's run."""
    lines = [f"catalogue {catalog['n_items']} items (model version {catalog['model_version']})"]
    limit = catalog.get("limit")
    if limit:
        lines.append(
            f"  {LIMIT}: {limit['events_per_s']:.0f} events/s at batch {limit['batch_size']} "
            f"(p50 {limit['call_ms']['p50']} ms per call); batch 1: "
            f"{catalog['limit_per_event']['events_per_s']:.0f} events/s"
        )
    header = f"  {'system':28} {'max/s':>7} {'cap/s':>7}  at  {'emit p50/p99':>15}"
    header += f" {'readable p50/p99':>18} {'Cassandra p50/p99':>18}"
    lines.append(header)
    for name, system in catalog["systems"].items():
        first = True
        for point in system["latency"]:
            label = name if first else ""
            rates = (
                f"{system['max_sustainable_rate']:>7.0f} {system['capacity']:>7.0f}"
                if first
                else " " * 15
            )
            first = False
            cassandra = point.get("cassandra_ms")
            lines.append(
                f"  {label:28} {rates} {point['fraction']:>4.0%} "
                f"{_pair(point['emitted_ms']):>15} {_pair(point['readable_ms']):>18} "
                f"{_pair(cassandra) if cassandra else '-':>18}"
            )
    lines.append("  ratios: " + ", ".join(f"{k} {_num(v)}" for k, v in catalog["ratios"].items()))
    for name, t in catalog["targets"].items():
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        lines.append(f"  target {name}: {_num(t['measured'])} -> {verdict}")
    return "\n".join(lines)


def _pair(p: dict[str, Any]) -> str:
    return f"{_num(p['p50'])}/{_num(p['p99'])}"


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))


def plot(results: dict[str, Any], path: Path) -> None:
    """Throughput vs latency, one row per catalogue: p99 emitted (left) and readable (right)
    against the input rate of each latency point; dotted: maximum sustainable rates;
    dashed: the bare scoring limit (c)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    catalogs = results["catalogs"]
    fig, axes = plt.subplots(len(catalogs), 2, figsize=(12, 4.5 * len(catalogs)), squeeze=False)
    colors = {JOB: "C0", JOB_ALO: "C2", PER_EVENT: "C3", MICRO_BATCH: "C1"}
    for row, catalog in zip(axes, catalogs, strict=True):
        for ax, metric, title in (
            (row[0], "emitted_ms", "emitted - produced"),
            (row[1], "readable_ms", "readable on Kafka (read_committed) - produced"),
        ):
            for name, system in catalog["systems"].items():
                points = system["latency"]
                xs = [p["achieved_rate"] for p in points]
                ys = [p[metric]["p99"] for p in points]
                color = colors.get(name, "C4")
                ax.plot(xs, ys, "o-", color=color, label=f"{name} p99")
                ax.axvline(system["max_sustainable_rate"], color=color, linestyle=":", alpha=0.7)
            limit = catalog.get("limit", {}).get("events_per_s")
            if limit:
                ax.axvline(limit, color="k", linestyle="--", alpha=0.6, label=LIMIT)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("input rate (events/s)")
            ax.set_ylabel("p99 latency (ms)")
            ax.set_title(f"{catalog['n_items']:,} items: {title}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
        row[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("streamrec benchmark: throughput vs latency (dotted: max sustainable rate)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
