"""The machine's load average at the start and end of every benchmark phase.

The benchmark shares a 2-core box with the stack it drives and, often, with other work;
one busy minute moved the bare scoring limit (c) from 3,887 to 1,279 events/s between two
runs. The load recorded beside every phase lets a reader tell a slow system from a busy
machine, in results.json and in the progress log alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

LoadAverage = tuple[float, float, float]
"""Run-queue length averaged over the last 1, 5 and 15 minutes (``os.getloadavg``)."""


def load_average() -> LoadAverage:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def describe(load: LoadAverage) -> str:
    """``load 1.52/1.10/0.87`` (1, 5 and 15 minutes), for a progress line."""
    return "load " + "/".join(f"{value:.2f}" for value in load)


@dataclass
class PhaseLoads:
    """Load averages per phase, in the order the phases ran (JSON-ready ``records``)."""

    records: list[dict[str, Any]] = field(default_factory=list)

    def start(self, phase: str) -> str:
        """Sample the load as ``phase`` starts; return it described, for the phase's line."""
        load = load_average()
        self.records.append({"phase": phase, "start": load, "end": None})
        return describe(load)

    def end(self, phase: str) -> str:
        """Sample the load as ``phase`` ends; return it described, for the phase's line."""
        open_records = [r for r in self.records if r["phase"] == phase and r["end"] is None]
        if not open_records:
            raise ValueError(f"phase {phase!r} ended but never started; started: {self.names()}")
        load = load_average()
        open_records[-1]["end"] = load
        return describe(load)

    def names(self) -> list[str]:
        return [r["phase"] for r in self.records]
