"""The order of one catalogue's run: (c), then each system followed by (c) again."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from streamrec.bench import report, run
from streamrec.bench.run import Options


@dataclass
class FakeCatalog:
    n_items: int = 1000
    version: str = "1"
    package: bytes = b"zip"

    def load(self) -> object:
        return object()


class FakeSystem:
    def __init__(self, label: str, order: list[str]) -> None:
        self.label, self.order = label, order

    def __enter__(self) -> "FakeSystem":
        return self

    def __exit__(self, *_: object) -> None:
        self.order.append(f"stop {self.label}")

    def start(self, _progress: Any) -> None:
        self.order.append(f"start {self.label}")


@pytest.fixture
def order(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    order: list[str] = []
    rates = iter([100.0, 2000.0, 1000.0, 4000.0])  # batch 1, then each batch-256 (c)

    def scoring_limit(_catalog: Any, batch: int, *_: Any) -> dict[str, Any]:
        order.append(f"(c) batch {batch}")
        return {"batch_size": batch, "events_per_s": next(rates), "call_ms": {"p50": 1.0}}

    class FakeMeasurement:
        def __init__(self, _config: Any, system: FakeSystem, *_: Any) -> None:
            self.system = system

        def run(self) -> dict[str, Any]:
            order.append(f"measure {self.system.label}")
            return {"max_sustainable_rate": 1000.0, "capacity": 1100.0, "latency": []}

    labels = {"job": report.JOB, "per-event": report.PER_EVENT}
    monkeypatch.setattr(run, "scoring_limit", scoring_limit)
    monkeypatch.setattr(run, "Measurement", FakeMeasurement)
    monkeypatch.setattr(run, "_system", lambda key, *_: FakeSystem(labels[key], order))
    return order


def test_each_system_runs_between_two_limit_measurements(order: list[str], tmp_path: Path) -> None:
    options = Options(catalogs=(1000,), systems=("job", "per-event"))
    result = run._one_catalog(None, FakeCatalog(), options, tmp_path, lambda _line: None)  # type: ignore[arg-type]
    assert order == [
        "(c) batch 1",
        "(c) batch 256",
        f"start {report.JOB}",
        f"measure {report.JOB}",
        f"stop {report.JOB}",
        "(c) batch 256",
        f"start {report.PER_EVENT}",
        f"measure {report.PER_EVENT}",
        f"stop {report.PER_EVENT}",
        "(c) batch 256",
    ]
    assert [r["when"] for r in result["limit_runs"]] == [
        "at the start",
        f"after {report.JOB}",
        f"after {report.PER_EVENT}",
    ]
    assert all(len(r["loadavg_start"]) == 3 for r in result["limit_runs"])
    job, per_event = result["systems"][report.JOB], result["systems"][report.PER_EVENT]
    assert (job["limit_before"], job["limit_after"]) == (2000.0, 1000.0)
    assert (per_event["limit_before"], per_event["limit_after"]) == (1000.0, 4000.0)
    assert result["ratios"]["job/(c)before"] == 0.5
    assert result["ratios"]["job/(c)after"] == 1.0
    assert not (tmp_path / "model-1000.zip").exists()
