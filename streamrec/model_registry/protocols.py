"""Evaluation protocols: a global temporal split and a per-user leave-last-N-out.

Each protocol turns one sorted event log into an ``EvalCase``: the events a model (and
every baseline) may learn from, and per evaluated user the online features at the cut
plus the truth (distinct items engaged with after the cut, minus the user's
``recent_items``, which the serving path never recommends).

- ``temporal``: one cut at the time leaving ``future_fraction`` of the events after it;
  users with state at the cut and something new after it are evaluated. Nothing after
  the cut is trained on.
- ``leave_last``: per user with more than ``n`` engagements, the events from the user's
  n-th last engagement on are held out; everything else, including other users' later
  events, is training data (the usual leave-out leakage, the reason the temporal split
  is reported too).
- ``rolling``: the temporal split repeated at several origins (rolling-origin
  evaluation): the log ends at its last event, then where the previous split's future
  began, and so on, so the futures are consecutive and do not overlap. On a ratings log
  a single temporal split evaluates 20-30 users and one user's hits move Recall@20 by
  a tenth; pooled over six origins it evaluates about 120.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from streamrec.contracts.event import Event
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.evaluate import EvalSet, build_eval_set, is_engagement
from streamrec.model_registry.examples import fold, split_by_time
from streamrec.state.features import DEFAULT_HALF_LIFE_MS

RECENT_SHARE = 0.15
"""The recent-popularity baseline counts the newest 15% of the training events (the
share the temporal protocol holds out), so its window is the last one before the cut."""


@dataclass
class EvalCase:
    protocol: str
    train_events: list[Event]
    """Sorted by ts; the only events a model or baseline may learn from."""
    eval_set: EvalSet
    recent_since_ts: int
    """Start of the recent-popularity window (inside the training events)."""

    @property
    def interactions(self) -> int:
        """Truth items over all evaluated users."""
        return sum(len(t) for t in self.eval_set.truth)


def temporal_case(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    future_fraction: float = 0.15,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
) -> EvalCase:
    split = split_by_time(events, future_fraction)
    states = fold(split.past, item_categories, half_life_ms=half_life_ms).states
    return EvalCase(
        "temporal",
        split.past,
        build_eval_set(states, split.future),
        recent_start(split.past),
    )


def leave_last_case(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    n: int = 5,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
) -> EvalCase:
    engagements: dict[str, list[int]] = defaultdict(list)
    for pos, e in enumerate(events):
        if is_engagement(e):
            engagements[e.user_id].append(pos)
    cut = {user: pos[-n] for user, pos in engagements.items() if len(pos) > n}
    train, held = [], []
    for pos, e in enumerate(events):
        if e.user_id in cut and pos >= cut[e.user_id]:
            held.append(e)
        else:
            train.append(e)
    states = fold(train, item_categories, half_life_ms=half_life_ms).states
    return EvalCase(f"leave_last_{n}", train, build_eval_set(states, held), recent_start(train))


def recent_start(train_events: Sequence[Event]) -> int:
    """ts from which the newest RECENT_SHARE of ``train_events`` lie."""
    return train_events[int(len(train_events) * (1.0 - RECENT_SHARE))].ts


def rolling_origins(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    future_fraction: float = 0.15,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
) -> Iterator[EvalCase]:
    """Temporal cases, newest first, as many as the log allows: the k-th on the events
    before the k-th cut (the log itself for k = 0), each holding out its newest
    ``future_fraction``. Lazy, since each case folds every user's features.

    The first raises DataError if the log cannot be cut at all; later ones end the
    iteration where the remaining events are too few to cut again."""
    remaining = list(events)
    for k in itertools.count():
        try:
            case = temporal_case(remaining, item_categories, future_fraction, half_life_ms)
        except DataError:
            if k == 0:
                raise
            return
        yield dataclasses.replace(case, protocol=f"temporal@{k}")
        remaining = case.train_events


def rolling_cases(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    origins: int,
    future_fraction: float = 0.15,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
) -> list[EvalCase]:
    """The first ``origins`` of ``rolling_origins`` (fewer where the log runs out)."""
    if origins < 1:
        raise ValueError(f"origins must be at least 1, got {origins}")
    cases = rolling_origins(events, item_categories, future_fraction, half_life_ms)
    return list(itertools.islice(cases, origins))
