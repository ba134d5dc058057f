"""The whole benchmark in one run: per catalogue, the job and baselines (a)/(b), each
between two measurements of (c).

Order per catalogue: the bare scoring limit (c) in this process, while nothing else runs;
then each streaming system on its own topics, one at a time, so they never share the
machine (the job with exactly-once output, the job with at-least-once output, baseline (a)
and baseline (b)), with (c) measured again after each. Every system is thus compared with
the (c) just before it and the (c) just after it: a single (c) taken at the start moved
every ratio with the machine's load (3,887 events/s in one run, 1,279 in another). Then
ratios, targets, the table, JSON and the plot, with the load average of every phase.
``--knobs`` adds the knob sweep on the first catalogue. ``streamrec bench --help`` lists
the options.
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamrec.bench import knobs, report
from streamrec.bench.catalog import Catalog, load_or_build
from streamrec.bench.limit import scoring_limit
from streamrec.bench.load import describe, load_average
from streamrec.bench.runner import Measurement, Plan
from streamrec.bench.systems import ConsumerBaseline, FlinkJob
from streamrec.bench.traffic import Progress
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Batching
from streamrec.scoring.pipeline import ScoringConfig
from streamrec.stack.config import StackConfig

SYSTEMS = ("job", "job-alo", "per-event", "micro-batch")
QUICK_PLAN = Plan(probe_events=300, drain_s=6, sustain_s=6, latency_s=5, max_tries=2)


@dataclass(frozen=True)
class Options:
    catalogs: tuple[int, ...] = (10_000, 100_000)
    systems: tuple[str, ...] = SYSTEMS
    plan: Plan = field(default_factory=Plan)
    max_batch: int = Batching.max_batch
    max_delay_ms: int = Batching.max_delay_ms
    parallelism: int = 1
    knobs: bool = False
    limit_events: int = 4096


def run_benchmark(
    config: StackConfig, options: Options, out_dir: Path, progress: Progress
) -> dict[str, Any]:
    started = time.time()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": load_average(),
        },
        "options": asdict(options),
        "catalogs": [],
    }
    first: Catalog | None = None
    for n_items in options.catalogs:
        catalog = load_or_build(n_items, config.data_dir / "bench", progress)
        first = first or catalog
        results["catalogs"].append(_one_catalog(config, catalog, options, out_dir, progress))
        results["scaling"] = report.scaling(results["catalogs"])
        for name, target in results["scaling"].items():
            progress(f"target {name}: {report.verdict(target)}")
        _save(results, out_dir, progress)
    if options.knobs and first is not None:
        job = results["catalogs"][0]["systems"].get(report.JOB)
        rate = 0.5 * job["max_sustainable_rate"] if job else 100.0
        progress(f"knobs: each setting on {first.n_items} items, latency at {rate:.0f}/s")
        results["knobs"] = {
            "catalog": first.n_items,
            "latency_rate": rate,
            "settings": knobs.sweep(config, first, rate, options.plan, progress),
            "execution_mode": knobs.execution_modes(progress),
        }
    results["machine"]["loadavg_end"] = load_average()
    results["duration_s"] = round(time.time() - started, 1)
    _save(results, out_dir, progress)
    return results


def _one_catalog(
    config: StackConfig, catalog: Catalog, options: Options, out_dir: Path, progress: Progress
) -> dict[str, Any]:
    # Loaded once and kept while the systems run: it is idle then, and reloading the
    # 100K-item model (HNSW build) before every (c) would take longer than (c) itself.
    limit = _LimitProbe(catalog, options, progress)
    per_event = limit.per_event()
    runs = [limit.measure("at the start")]
    result: dict[str, Any] = {
        "n_items": catalog.n_items,
        "model_version": catalog.version,
        "limit_runs": runs,
        "limit_per_event": per_event,
        "systems": {},
    }
    package_path = out_dir / f"model-{catalog.n_items}.zip"
    package_path.parent.mkdir(parents=True, exist_ok=True)
    package_path.write_bytes(catalog.package)
    for key in options.systems:
        system = _system(key, config, catalog, options, package_path)
        with system:
            system.start(progress)
            measured = Measurement(config, system, catalog, options.plan, progress).run()
        runs.append(limit.measure(f"after {system.label}"))
        measured["limit_before"] = runs[-2]["events_per_s"]
        measured["limit_after"] = runs[-1]["events_per_s"]
        result["systems"][system.label] = measured
    package_path.unlink()
    result["ratios"] = report.ratios(result)
    result["targets"] = report.targets(result)
    progress("\n" + report.table(result))
    return result


class _LimitProbe:
    """(c) for one catalogue, measured as often as asked on one loaded model."""

    def __init__(self, catalog: Catalog, options: Options, progress: Progress) -> None:
        self.catalog, self.options, self.progress = catalog, options, progress
        self.scoring = ScoringConfig()
        self.model = catalog.load()

    def measure(self, when: str) -> dict[str, Any]:
        """(c) at the benchmark's batch size, labelled ``when`` and with the load around it."""
        batch, events = self.options.max_batch, self.options.limit_events
        start = load_average()
        self.progress(
            f"(c) {self.catalog.n_items} items {when}: score_batch alone, batch {batch} "
            f"({describe(start)})"
        )
        run = scoring_limit(self.catalog, batch, events, self.scoring, self.model)
        end = load_average()
        self.progress(f"(c) {when}: {run['events_per_s']:.0f} events/s ({describe(end)})")
        return {"when": when, **run, "loadavg_start": start, "loadavg_end": end}

    def per_event(self) -> dict[str, Any]:
        """(c) at batch 1, once per catalogue: context for baseline (a), in no ratio."""
        events = min(500, self.options.limit_events)
        run = scoring_limit(self.catalog, 1, events, self.scoring, self.model)
        self.progress(f"(c) at batch 1: {run['events_per_s']:.0f} events/s")
        return run


def _system(
    key: str, config: StackConfig, catalog: Catalog, options: Options, package_path: Path
) -> FlinkJob | ConsumerBaseline:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    batching = to_args(Batching(max_batch=options.max_batch, max_delay_ms=options.max_delay_ms))
    if key in ("job", "job-alo"):
        delivery = "exactly-once" if key == "job" else "at-least-once"
        return FlinkJob(
            config,
            catalog,
            name,
            delivery=delivery,
            parallelism=options.parallelism,
            extra_args=batching,
            label=report.JOB if key == "job" else report.JOB_ALO,
        )
    if key in ("per-event", "micro-batch"):
        return ConsumerBaseline(
            config,
            package_path,
            name,
            key,
            max_batch=options.max_batch,
            max_delay_ms=options.max_delay_ms,
            label=report.PER_EVENT if key == "per-event" else report.MICRO_BATCH,
        )
    raise ValueError(f"unknown system {key!r}; known: {', '.join(SYSTEMS)}")


def _save(results: dict[str, Any], out_dir: Path, progress: Progress) -> None:
    """Write after every catalogue too, so a long run that is stopped keeps its numbers."""
    report.write_json(results, out_dir / "results.json")
    if results["catalogs"]:
        report.plot(results, out_dir / "throughput_vs_latency.png")
    progress(f"results: {out_dir / 'results.json'}, plot: {out_dir / 'throughput_vs_latency.png'}")
