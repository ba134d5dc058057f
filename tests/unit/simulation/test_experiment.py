"""The experiment's phases and bookkeeping, on a fake loop and a fake clock."""

from __future__ import annotations

import pytest

from streamrec.scoring.popularity import FALLBACK_VERSION
from streamrec.simulation import experiment
from streamrec.simulation.closed_loop import Tally

CTR = {FALLBACK_VERSION: 0.1, "1": 0.5, "2": 0.2}


class FakeLoop:
    """Answers 20 lists a second with the serving version, clicked at its CTR."""

    def __init__(self, clock: list[float]) -> None:
        self.tally, self.serving, self.clock = Tally(), FALLBACK_VERSION, clock

    def publish(self, version: str) -> str:
        self.serving = version
        return version

    def run(self, seconds: float) -> None:
        lists = round(20 * seconds)
        clicks = round(CTR[self.serving] * lists)
        for n in range(lists):
            self.tally.add(self.serving, "model", clicked=n < clicks)
        self.clock[0] += seconds


def test_three_phases_tally_each_version_and_time_the_worse_model(monkeypatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(experiment.time, "monotonic", lambda: clock[0])
    loop = FakeLoop(clock)
    lines: list[str] = []
    outcome = experiment.run(
        loop,  # type: ignore[arg-type]
        experiment.comparison(60, loop.publish),
        check_every_s=15,
        say=lines.append,
    )
    assert [p.version for p in outcome.phases] == [None, "1", "2"]
    assert lines[1].endswith("published 1") and lines[2].endswith("published 2")
    # Each phase holds only its own lists: 1,200 at the serving version's CTR.
    for phase, version in zip(outcome.phases, (FALLBACK_VERSION, "1", "2"), strict=True):
        assert list(phase.rates) == [version]
        assert phase.rates[version].shown == 1200
        assert phase.rates[version].ctr == pytest.approx(CTR[version])
    # 0.5 over 1,200 lists against 0.2 over 300: apart at the first check.
    assert outcome.separated_after_s == 15
