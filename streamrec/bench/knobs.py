"""The knobs that matter, one at a time from the job's defaults, and what each one does.

Every setting is a fresh deployment of the job (exactly-once) on the first catalogue,
measured for capacity (a drained backlog) and for latency at one fixed input rate, the
same for all settings. Execution mode is not a flag of the job (it pins thread mode, which
its timer batching needs); its effect is measured by ``streamrec.bench.designs``, which
runs the same keyed timer-batching design in both modes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamrec.bench.catalog import Catalog
from streamrec.bench.runner import Measurement, Plan
from streamrec.bench.systems import FlinkJob
from streamrec.bench.traffic import Progress
from streamrec.job_config.flags import to_args
from streamrec.job_config.settings import Batching, Checkpointing
from streamrec.stack.config import StackConfig


@dataclass(frozen=True)
class Setting:
    knob: str
    value: str
    job_args: tuple[str, ...] = ()
    parallelism: int = 1


def _flags(group: object) -> tuple[str, ...]:
    """The job's flags for what ``group`` changes from the defaults."""
    return tuple(to_args(group, changed_only=True))


_DEFAULT = Batching()
DEFAULTS = Setting(
    "defaults",
    f"max batch {_DEFAULT.max_batch}, max delay {_DEFAULT.max_delay_ms} ms, "
    f"buffer timeout {_DEFAULT.buffer_timeout_ms} ms, p=1",
)
SETTINGS: tuple[Setting, ...] = (
    DEFAULTS,
    Setting("max batch", "64", _flags(Batching(max_batch=64))),
    Setting("max batch", "1024", _flags(Batching(max_batch=1024))),
    Setting("max delay", "5 ms", _flags(Batching(max_delay_ms=5))),
    Setting("max delay", "100 ms", _flags(Batching(max_delay_ms=100))),
    Setting("bundle size/time", "10 / 5 ms", _flags(Batching(bundle_size=10, bundle_time_ms=5))),
    Setting(
        "bundle size/time",
        "100000 / 1000 ms",
        _flags(Batching(bundle_size=100_000, bundle_time_ms=1000)),
    ),
    Setting(
        "network buffer timeout",
        "100 ms (Flink default)",
        _flags(Batching(buffer_timeout_ms=100)),
    ),
    Setting("parallelism", "2", (), 2),
    Setting("checkpoint interval", "1 s", _flags(Checkpointing(interval_ms=1000))),
    Setting("checkpoint interval", "60 s", _flags(Checkpointing(interval_ms=60_000))),
    Setting("state backend", "hashmap (heap)", _flags(Checkpointing(state_backend="hashmap"))),
)


def sweep(
    config: StackConfig,
    catalog: Catalog,
    rate: float,
    plan: Plan,
    progress: Progress,
    settings: tuple[Setting, ...] = SETTINGS,
) -> list[dict[str, Any]]:
    """Capacity and latency at ``rate`` for each setting."""
    results = []
    for n, setting in enumerate(settings, 1):
        label = f"knob {n}/{len(settings)} {setting.knob}={setting.value}"
        job = FlinkJob(
            config,
            catalog,
            f"bench-{uuid.uuid4().hex[:6]}",
            parallelism=setting.parallelism,
            extra_args=setting.job_args,
            label=label,
        )
        with job:
            job.start(progress)
            measured = Measurement(config, job, catalog, plan, progress).capacity_and_latency(rate)
        results.append({"knob": setting.knob, "value": setting.value, **measured})
    return results


def execution_modes(progress: Progress, records: int = 4000) -> dict[str, Any]:
    """Keyed timer batching in thread vs process mode, by ``streamrec.bench.designs``."""
    progress(f"execution mode: streamrec.bench.designs, timer batching, {records} records")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "designs.json"
        subprocess.run(
            [
                sys.executable, "-m", "streamrec.bench.designs",
                "--designs", "timers_thread,timers_process",
                "--records", str(records),
                "--json", str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return json.loads(out.read_text())
