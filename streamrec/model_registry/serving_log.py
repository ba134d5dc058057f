"""Training input from the serving-features log: the features each recommendation was
scored with (contracts.serving_features), labelled by what the user engaged with next.

A record holds the user's state right after its triggering event; the user's next record
names the event that came next. So the pair (state after record n, item of record n+1)
is exactly the example ``examples.fold`` builds from the events (features before an
engagement, and its item), with the features taken as served instead of recomputed: no
skew between what the job fed the model and what the next model trains on.

Records of one user are paired in the order they appear in the log: the topic is keyed
by user, so a user's records are in one partition, in the order the job served them
(an export keeps that order). A pair is used only when the second record's state counts
exactly one more event than the first's (``events_seen``): a gap (a record left out for
size, or a log cut short) would otherwise label a state with an event it never preceded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from streamrec.contracts.event import Event
from streamrec.contracts.serving_features import (
    FeatureSpecRef,
    InvalidServingFeaturesError,
    ServingFeatures,
    parse_serving_features,
)
from streamrec.model_registry.errors import DataError
from streamrec.state.features import UserFeatures

log = logging.getLogger(__name__)

# The event types a training example is labelled with (examples.fold's).
ENGAGEMENTS = frozenset({"view", "click", "add", "purchase"})


@dataclass
class ServingLog:
    """The valid records of a log, in log order, and what was skipped."""

    records: list[ServingFeatures]
    bad_lines: Counter[str] = field(default_factory=Counter)
    """Skipped lines per reason (contracts.serving_features.SERVING_FEATURES_REASONS)."""
    first_bad_line: dict[str, int] = field(default_factory=dict)
    """Line number (1-based) of the first skipped line per reason."""

    def model_versions(self) -> Counter[str]:
        return Counter(r.model_version for r in self.records)

    def bad_summary(self) -> str:
        return ", ".join(
            f"{reason}: {count} (first at line {self.first_bad_line[reason]})"
            for reason, count in sorted(self.bad_lines.items())
        )


def parse_lines(lines: Iterable[bytes]) -> ServingLog:
    """One record per line (JSONL, what ``streamrec model export-serving-log`` writes).

    A bad line is skipped and counted by reason with its line number, not fatal: the log
    is the job's own output, so a bad line is a cut export or a foreign writer, and one
    lost example should not block training on the rest. The counts are printed and kept
    with the run; a log with no valid record at all is refused.
    """
    out = ServingLog([])
    for lineno, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            out.records.append(parse_serving_features(raw))
        except InvalidServingFeaturesError as ex:
            out.bad_lines[ex.reason] += 1
            out.first_bad_line.setdefault(ex.reason, lineno)
    if not out.records:
        detail = f"; skipped {out.bad_summary()}" if out.bad_lines else ""
        raise DataError(f"the serving log holds no valid record{detail}")
    return out


def read_serving_log(path: Path) -> ServingLog:
    with open(path, "rb") as fh:
        try:
            return parse_lines(fh)
        except DataError as ex:
            raise DataError(f"{path}: {ex}") from None


@dataclass
class LoggedExamples:
    """Training examples whose user-side inputs are the logged features, as served."""

    features: list[UserFeatures]
    items: list[str]
    """What the user engaged with next (the label)."""
    ts: np.ndarray
    """int64 event time of each label."""
    events: list[Event]
    """Every record's triggering event, sorted by ts: the item catalogue, popularity and the
    held-out evaluation are built from these."""
    spec: FeatureSpecRef
    model_versions: Counter[str]
    """Records per model version that served them (all are used: see ``logged_examples``)."""
    gaps: int = 0
    """Pairs not used because the user's state skipped or repeated events between them."""
    duplicates: int = 0
    """Records whose event_id was seen before (an at-least-once replay); the first is kept."""


def logged_examples(served: ServingLog) -> LoggedExamples:
    """Pair each user's consecutive records into (features, next engaged item).

    Records from several model versions are all used: the features are the job's keyed
    state, folded by the same ``state.features.update`` whatever model scored them, so a
    state is a valid input whichever version served it (the label may still reflect what
    that version showed: exposure bias, as with any logged-feedback training). What may
    not be mixed is the fold itself: a log whose records name different feature specs
    (name, version or half-life) is refused, since a model is trained for one spec.
    """
    specs = Counter(r.feature_spec for r in served.records)
    if len(specs) > 1:
        listed = ", ".join(
            f"{s.name} v{s.version} half-life {s.half_life_ms} ms: {n} records"
            for s, n in specs.most_common()
        )
        raise DataError(f"the serving log mixes feature specs ({listed}); export one")
    seen: set[str] = set()
    by_user: dict[str, list[ServingFeatures]] = {}
    duplicates = 0
    for record in served.records:
        if record.event_id in seen:
            duplicates += 1
            continue
        seen.add(record.event_id)
        by_user.setdefault(record.user_id, []).append(record)
    features: list[UserFeatures] = []
    items: list[str] = []
    stamps: list[int] = []
    gaps = 0
    for records in by_user.values():
        for before, after in pairwise(records):
            if after.event_type not in ENGAGEMENTS or after.item_id is None:
                continue
            if _events_seen(after) != _events_seen(before) + 1:
                gaps += 1
                continue
            state = UserFeatures.from_dict(before.features)
            if not state.recent_items:
                continue  # no history: no signal for the user tower (as examples.fold)
            features.append(state)
            items.append(after.item_id)
            stamps.append(after.event_ts)
    events = sorted(
        (
            Event(r.event_id, r.user_id, r.item_id, r.event_type, r.event_ts, dict(r.context))
            for users in by_user.values()
            for r in users
        ),
        key=lambda e: e.ts,
    )
    return LoggedExamples(
        features,
        items,
        np.array(stamps, dtype=np.int64),
        events,
        next(iter(specs)),
        served.model_versions(),
        gaps,
        duplicates,
    )


def _events_seen(record: ServingFeatures) -> int:
    return sum(record.features["event_counts"].values())


def categories_from_context(events: Iterable[Event]) -> dict[str, str]:
    """Item categories named by the events' ``context.category`` (the trending query reads
    the same field), for a log trained on without a catalogue file."""
    out: dict[str, str] = {}
    for event in events:
        category = event.context.get("category")
        if event.item_id is not None and isinstance(category, str) and category:
            out[event.item_id] = category
    return out
