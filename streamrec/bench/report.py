"""The benchmark's results: ratios against the baselines, targets, a table, JSON and a plot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamrec.bench.measure import ratio

JOB = "job exactly-once"
JOB_ALO = "job at-least-once"
PER_EVENT = "(a) per-event consumer"
MICRO_BATCH = "(b) micro-batch consumer"
LIMIT = "(c) score_batch alone"

# The hot-path issue's targets, at 10,000 items, 200 candidates ranked, k = 20.
TARGET_VS_LIMIT = 0.5  # the job's rate over (c), against both (c) measurements around it
TARGET_VS_MICRO_BATCH = 1.5
TARGET_P99_MS = 100  # event -> Cassandra and event -> emitted, exactly-once job at 50% load
TARGET_ALO_READABLE_P99_MS = 150  # event -> readable, at-least-once job at 50% load
TARGET_SCALING_DRIFT = 0.20  # a larger catalogue's ratios within 20% of the first one's
SCALED_RATIOS = ("job/(c)before", "job/(c)after", "job/(b)")

# Short names for the ratio keys: "job/(c)before" reads better than the full label.
SHORT = {JOB: "job", JOB_ALO: "job at-least-once", PER_EVENT: "(a)", MICRO_BATCH: "(b)"}


def ratios(catalog: dict[str, Any]) -> dict[str, float | None]:
    """Throughput ratios (maximum sustainable rates): the exactly-once job over (a) and (b),
    and every system over the (c) measured just before it and the (c) just after it."""
    systems = catalog["systems"]
    job = _rate(systems.get(JOB))
    out = {
        "job/(a)": ratio(job, _rate(systems.get(PER_EVENT))),
        "job/(b)": ratio(job, _rate(systems.get(MICRO_BATCH))),
    }
    for name, system in systems.items():
        short = SHORT.get(name, name)
        for side in ("before", "after"):
            out[f"{short}/(c){side}"] = ratio(_rate(system), system.get(f"limit_{side}"))
    return out


def targets(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it is met (reported, not asserted)."""
    r = catalog["ratios"]
    job_half = _point(catalog["systems"].get(JOB), 0.5)
    alo_half = _point(catalog["systems"].get(JOB_ALO), 0.5)
    at_least_limit = _at_least(TARGET_VS_LIMIT)
    at_most_p99 = _at_most(TARGET_P99_MS)
    return {
        f"job/(c)before >= {TARGET_VS_LIMIT}": _target(r.get("job/(c)before"), at_least_limit),
        f"job/(c)after >= {TARGET_VS_LIMIT}": _target(r.get("job/(c)after"), at_least_limit),
        f"job/(b) >= {TARGET_VS_MICRO_BATCH}": _target(
            r.get("job/(b)"), _at_least(TARGET_VS_MICRO_BATCH)
        ),
        f"p99 event->Cassandra at 50% <= {TARGET_P99_MS} ms": _target(
            _p99(job_half, "cassandra_ms"), at_most_p99
        ),
        f"p99 event->emitted at 50% <= {TARGET_P99_MS} ms": _target(
            _p99(job_half, "emitted_ms"), at_most_p99
        ),
        f"at-least-once p99 event->readable at 50% <= {TARGET_ALO_READABLE_P99_MS} ms": _target(
            _p99(alo_half, "readable_ms"), _at_most(TARGET_ALO_READABLE_P99_MS)
        ),
    }


def scaling(catalogs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each larger catalogue's target ratios against the first catalogue's: the measured
    value is the relative change, met within ``TARGET_SCALING_DRIFT`` either way."""
    if len(catalogs) < 2:
        return {}
    first, out = catalogs[0], {}
    within = _at_most(TARGET_SCALING_DRIFT)
    for other in catalogs[1:]:
        for key in SCALED_RATIOS:
            base, value = first["ratios"].get(key), other["ratios"].get(key)
            change = None if not base or value is None else round(value / base - 1, 3)
            name = f"{key} at {other['n_items']} items within 20% of {first['n_items']}"
            out[name] = _target(change, lambda c: within(abs(c)))
    return out


def _at_least(bound: float) -> Callable[[float], bool]:
    return lambda value: value >= bound


def _at_most(bound: float) -> Callable[[float], bool]:
    return lambda value: value <= bound


def _target(value: float | None, check: Callable[[float], bool]) -> dict[str, Any]:
    return {"measured": value, "met": None if value is None else bool(check(value))}


def _rate(system: dict[str, Any] | None) -> float | None:
    return None if system is None else system["max_sustainable_rate"]


def _point(system: dict[str, Any] | None, fraction: float) -> dict[str, Any] | None:
    if system is None:
        return None
    return next((p for p in system["latency"] if p["fraction"] == fraction), None)


def _p99(point: dict[str, Any] | None, metric: str) -> float | None:
    return None if point is None else point.get(metric, {}).get("p99")


def table(catalog: dict[str, Any]) -> str:
    """A plain-text summary of one catalogue's run."""
    lines = [f"catalogue {catalog['n_items']} items (model version {catalog['model_version']})"]
    lines += _limit_lines(catalog)
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
            lines += _strategy_lines(point)
    lines += _ratio_lines(catalog)
    for name, target in catalog["targets"].items():
        lines.append(f"  target {name}: {verdict(target)}")
    return "\n".join(lines)


def _strategy_lines(point: dict[str, Any]) -> list[str]:
    """The answers other than the model's (cold start), when the point has any."""
    out = []
    for strategy, split in sorted(point.get("by_strategy", {}).items()):
        if strategy == "model":
            continue
        cassandra = split["cassandra_ms"] if split["cassandra_samples"] else None
        out.append(
            f"  {'  answered by ' + strategy:28} {split['events']:>7} events"
            f"{'':>20} {_pair(split['readable_ms']):>18} "
            f"{_pair(cassandra) if cassandra else '-':>18}"
        )
    return out


def verdict(target: dict[str, Any]) -> str:
    """``0.42 -> NOT met``: a target's measured value and whether it is met."""
    word = {True: "met", False: "NOT met", None: "not measured"}[target["met"]]
    return f"{_num(target['measured'])} -> {word}"


def _limit_lines(catalog: dict[str, Any]) -> list[str]:
    runs = catalog.get("limit_runs") or []
    if not runs:
        return []
    lines = [f"  {LIMIT}, batch {runs[0]['batch_size']}: events/s, p50 ms per call, load 1/5/15"]
    for run in runs:
        load = "/".join(f"{v:.2f}" for v in run["loadavg_start"])
        lines.append(
            f"    {run['when']:34} {run['events_per_s']:>7.0f} {_num(run['call_ms']['p50']):>7}"
            f"  {load}"
        )
    per_event = catalog.get("limit_per_event")
    if per_event:
        lines.append(f"    {'at batch 1':34} {per_event['events_per_s']:>7.0f}")
    return lines


def _ratio_lines(catalog: dict[str, Any]) -> list[str]:
    """Every system against the (c) just before it and just after it, then job/(a), job/(b)."""
    r = catalog["ratios"]
    lines = [
        f"  {'ratio to (c)':28} {'max/s':>7} {'(c)before':>10} {'(c)after':>9}"
        f" {'sys/(c)before':>14} {'sys/(c)after':>13}"
    ]
    for name, system in catalog["systems"].items():
        short = SHORT.get(name, name)
        lines.append(
            f"  {name:28} {system['max_sustainable_rate']:>7.0f}"
            f" {_num(system.get('limit_before')):>10} {_num(system.get('limit_after')):>9}"
            f" {_num(r.get(f'{short}/(c)before')):>14} {_num(r.get(f'{short}/(c)after')):>13}"
        )
    lines.append(f"  ratios: job/(a) {_num(r.get('job/(a)'))}, job/(b) {_num(r.get('job/(b)'))}")
    return lines


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
    dashed and shaded: the range of the bare scoring limit (c) over its measurements."""
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
            limits = [run["events_per_s"] for run in catalog.get("limit_runs", [])]
            if limits:
                low, high = min(limits), max(limits)
                label = f"{LIMIT}: {low:.0f}-{high:.0f}/s over {len(limits)} runs"
                ax.axvspan(low, high, color="k", alpha=0.08)
                ax.axvline(low, color="k", linestyle="--", alpha=0.6, label=label)
                ax.axvline(high, color="k", linestyle="--", alpha=0.6)
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
