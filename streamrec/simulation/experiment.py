"""The online experiment: the same simulated users under each model in turn.

Phases run back to back on one running job: the popularity fallback (no model yet), then a
published model, then a deliberately worse one (the trained model with its item ids
shuffled, the kind of bug a misaligned id mapping makes). Every list is tallied under the
version that answered it, so lists answered during a swap count for the right version.
During the last phase the CTR of the newest version is compared, every ``check_every_s``,
with the one before it; the first check at which their intervals separate is how long
the worse model took to show in the per-version CTR.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from streamrec.model_package.package import ModelArtifacts
from streamrec.simulation.closed_loop import ClosedLoop, Tally
from streamrec.simulation.ctr import Rate


def misaligned(artifacts: ModelArtifacts, seed: int = 0) -> ModelArtifacts:
    """``artifacts`` with the item ids shuffled over the rows: every vector names another
    item, and the user tower reads histories through the same wrong mapping."""
    order = np.random.default_rng(seed).permutation(len(artifacts.item_ids))
    return dataclasses.replace(artifacts, item_ids=[artifacts.item_ids[i] for i in order])


@dataclass
class Phase:
    name: str
    seconds: float
    publish: Callable[[], str] | None = None
    """Publishes a model and returns its version; None serves what serves now."""


def comparison(seconds: float, publish: Callable[[str], str]) -> list[Phase]:
    """The experiment's three phases: the popularity fallback, the trained model (version
    "1"), then the same model with its item ids shuffled (version "2")."""
    return [
        Phase("popularity fallback", seconds),
        Phase("trained model", seconds, lambda: publish("1")),
        Phase("trained model, item ids shuffled", seconds, lambda: publish("2")),
    ]


@dataclass
class PhaseResult:
    name: str
    version: str | None
    rates: dict[str, Rate]
    """Per answering version, the lists of this phase."""
    seconds: float


@dataclass
class Outcome:
    phases: list[PhaseResult] = field(default_factory=list)
    separated_after_s: float | None = None
    """Seconds into the last phase until its version's CTR interval left the previous
    version's (None: not within the phase)."""


def run(
    loop: ClosedLoop,
    phases: list[Phase],
    check_every_s: float = 15.0,
    say: Callable[[str], None] = print,
) -> Outcome:
    outcome = Outcome()
    previous: str | None = None
    for number, phase in enumerate(phases):
        version = phase.publish() if phase.publish is not None else None
        say(
            f"phase {phase.name}: {phase.seconds:.0f} s"
            + (f", published {version}" if version else "")
        )
        before = _copy(loop.tally)
        started = time.monotonic()
        last = number == len(phases) - 1
        while time.monotonic() - started < phase.seconds:
            loop.run(min(check_every_s, phase.seconds - (time.monotonic() - started)))
            if last and previous and version and outcome.separated_after_s is None:
                rates = loop.tally.by_version()
                old, new = rates.get(previous), rates.get(version)
                if (
                    old is not None
                    and new is not None
                    and (old.clearly_above(new) or new.clearly_above(old))
                ):
                    outcome.separated_after_s = time.monotonic() - started
        rates = _difference(loop.tally, before)
        outcome.phases.append(PhaseResult(phase.name, version, rates, phase.seconds))
        previous = version or previous
    return outcome


def _copy(tally: Tally) -> dict[str, Rate]:
    return {v: Rate(r.shown, r.clicked) for v, r in tally.by_version().items()}


def _difference(tally: Tally, before: dict[str, Rate]) -> dict[str, Rate]:
    out = {}
    for version, rate in tally.by_version().items():
        earlier = before.get(version, Rate())
        if rate.shown > earlier.shown:
            out[version] = Rate(rate.shown - earlier.shown, rate.clicked - earlier.clicked)
    return out
