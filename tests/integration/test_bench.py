"""The benchmark harness on the real stack: every phase of the runner against the job
(exactly-once, so both output readers and the Cassandra poller run) and against
baseline (a), on a small model. Numbers are not asserted, only that each was measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.bench.catalog import Catalog
from streamrec.bench.runner import Measurement, Plan
from streamrec.bench.systems import ConsumerBaseline, FlinkJob
from streamrec.model_package.package import build_package
from streamrec.model_registry.synthetic import generate
from streamrec.model_registry.train import TrainResult
from streamrec.stack.config import StackConfig
from tests.unit.conftest import SMALL_WORLD

pytestmark = pytest.mark.integration

TINY_PLAN = Plan(probe_events=200, drain_s=3, sustain_s=4, latency_s=3, max_tries=2,
                 fractions=(0.5,))  # fmt: skip


@pytest.fixture(scope="module")
def catalog(small_training: TrainResult) -> Catalog:
    data = generate(SMALL_WORLD)
    package = build_package(small_training.artifacts, "bench-test", "7", {})
    traffic = [(e.user_id, e.item_id, e.type) for e in data.events[-5000:]]
    return Catalog(len(small_training.artifacts.item_ids), package, traffic, data.item_categories)


def _check(result: dict, cassandra: bool) -> None:
    assert result["capacity"] > 0
    assert result["max_sustainable_rate"] > 0
    assert len(result["sustain_tries"]) >= 1
    (point,) = result["latency"]
    assert point["fraction"] == 0.5
    for metric in ("emitted_ms", "delivered_ms", "readable_ms"):
        p = point[metric]
        assert p["p50"] is not None and p["p50"] <= p["p99"], (metric, p)
    # Answers are emitted after the event was sent and read after they were emitted.
    assert point["emitted_ms"]["p50"] >= 0
    assert point["readable_ms"]["p50"] >= point["emitted_ms"]["p50"]
    assert ("cassandra_ms" in point) is cassandra
    if cassandra:
        assert point["cassandra_samples"] > 0
        assert point["cassandra_ms"]["p50"] >= 0


def test_runner_measures_the_job(
    stack_config: StackConfig, catalog: Catalog, unique_name: str
) -> None:
    lines: list[str] = []
    job = FlinkJob(stack_config, catalog, unique_name, label="job", extra_args=(
        "--checkpoint-interval-ms", "1000"))  # fmt: skip
    with job:
        job.start(lines.append)
        result = Measurement(stack_config, job, catalog, TINY_PLAN, lines.append).run()
    _check(result, cassandra=True)
    # Exactly-once output is readable only after the checkpoint that commits it.
    point = result["latency"][0]
    assert point["readable_ms"]["p50"] > point["delivered_ms"]["p50"]
    assert any("maximum sustainable rate" in line for line in lines)


def test_runner_measures_the_per_event_baseline(
    stack_config: StackConfig, catalog: Catalog, unique_name: str, tmp_path: Path
) -> None:
    package = tmp_path / "model.zip"
    package.write_bytes(catalog.package)
    baseline = ConsumerBaseline(stack_config, package, unique_name, "per-event", label="(a)")
    with baseline:
        baseline.start(print)
        pid = baseline.process.pid if baseline.process else None
        result = Measurement(stack_config, baseline, catalog, TINY_PLAN, print).run()
    _check(result, cassandra=False)
    assert pid is not None and baseline.process is None  # stopped and reaped
