"""Online equals offline: the training/serving skew check of docs/quality.md.

A protocol's past (the temporal split's, or leave-last-N's) is replayed through the
running job, which serves the model trained on that past; each evaluated user's
recommendation for their last past event is the job's answer for its state at the cut.
Those answers are scored on the future with the metric code of ``streamrec model
evaluate``, next to the offline rankings (``score_batch`` on the features
``examples.fold`` computes) for exactly the same users, with the same k and candidates
and no rules. Per-user lists are compared too: one differing list points at skew that an
aggregate can hide.

The Kafka side (publish, replay, collect) is ``online_replay``; this module is pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_package.package import LoadedModel
from streamrec.model_registry.evaluate import model_rankings, ranking_metrics
from streamrec.model_registry.protocols import EvalCase, leave_last_case, temporal_case
from streamrec.model_registry.replay import shifted
from streamrec.scoring.pipeline import ScoringConfig
from streamrec.scoring.warm import category_lookup
from streamrec.state.features import DEFAULT_HALF_LIFE_MS, UserFeatures, update

K = 20
TOLERANCE = 0.05
"""Largest relative gap between online and offline Recall@K that passes."""


@dataclass
class CheckCase:
    case: EvalCase
    """The protocol's split: train on ``case.train_events``, judge on the rest."""
    last_event: dict[str, str]
    """Evaluated user -> id of their last event before the cut."""

    @property
    def past(self) -> list[Event]:
        return self.case.train_events


def check_case(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    future_fraction: float = 0.15,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
    leave_last: int | None = None,
) -> CheckCase:
    """The temporal split, or with ``leave_last`` the per-user leave-last-N one: its
    training events, replayed in time order, still leave each evaluated user's state at
    their own cut after their last training event (state is per user), so the check
    holds for it too, and it evaluates many more users of a log whose recent window is
    thin."""
    case = (
        temporal_case(events, item_categories, future_fraction, half_life_ms)
        if leave_last is None
        else leave_last_case(events, item_categories, leave_last, half_life_ms)
    )
    evaluated = set(case.eval_set.users)
    last = {e.user_id: e.event_id for e in case.train_events if e.user_id in evaluated}
    return CheckCase(case, last)


def replay_copies(past: Sequence[Event], run: str, end_ms: int) -> list[Event]:
    """``past`` as the job gets it: one shift so the last event is at ``end_ms`` (the
    gaps, so the decayed features, stay those of the log; the job's event-age bound
    passes) and ids prefixed with ``run``, so each check starts from empty user state."""
    return [
        dataclasses.replace(
            e, event_id=online_id(run, e.event_id), user_id=online_id(run, e.user_id)
        )
        for e in shifted(past, end_ms)
    ]


def online_id(run: str, original: str) -> str:
    return f"{run}-{original}"


def feature_mismatches(
    model: LoadedModel, check: CheckCase, copies: Sequence[Event], run: str, half_life_ms: int
) -> list[str]:
    """Evaluated users whose model inputs differ between the offline fold and the job's
    (``copies`` folded with the catalogue's categories, as the job folds them)."""
    lookup = category_lookup(model)
    online: dict[str, UserFeatures] = {}
    for e in copies:
        online[e.user_id] = update(
            online.get(e.user_id, UserFeatures()), e, lookup, half_life_ms=half_life_ms
        )
    users = check.case.eval_set.users
    offline = model.vectorizer.transform(check.case.eval_set.features)
    replayed = model.vectorizer.transform([online[online_id(run, u)] for u in users])
    differs = np.zeros(len(users), dtype=bool)
    for name, values in offline.items():
        differs |= ~np.isclose(values, replayed[name], rtol=1e-6, atol=1e-7).reshape(
            len(users), -1
        ).all(axis=1)
    return [u for u, bad in zip(users, differs, strict=True) if bad]


@dataclass
class CheckReport:
    version: str
    users: int
    """Evaluated users the job answered (the denominator of both recalls)."""
    interactions: int
    online_recall: float
    offline_recall: float
    identical: int
    """Users whose online top-K equals the offline one, item for item."""
    missing: list[str]
    """Evaluated users without an answer for their last past event."""
    unanswered: int
    """Replayed events (of any user) without an answer."""
    foreign: dict[str, int]
    """Answers to this run's events by anything but ``version`` without rules
    (e.g. ``fallback:popularity``, or ``rules r3``), by what answered."""
    feature_mismatches: list[str]

    @property
    def gap(self) -> float:
        """Relative gap of online to offline Recall@K (0 when both are 0)."""
        if self.offline_recall == 0.0:
            return 0.0 if self.online_recall == 0.0 else float("inf")
        return abs(self.online_recall - self.offline_recall) / self.offline_recall

    def problems(self, tolerance: float = TOLERANCE, min_users: int = 1) -> list[str]:
        out = []
        if self.users < min_users:
            out.append(f"{self.users} users evaluated, fewer than {min_users}")
        if self.missing:
            out.append(f"{len(self.missing)} evaluated users got no answer")
        if self.unanswered:
            out.append(f"{self.unanswered} replayed events got no answer")
        if self.foreign:
            out.append(f"answers not by version {self.version} without rules: {self.foreign}")
        if self.gap > tolerance:
            out.append(f"Recall@{K} online/offline gap {self.gap:.1%} > {tolerance:.0%}")
        return out

    def summary(self) -> str:
        return (
            f"{self.users} users, {self.interactions} future interactions: Recall@{K} "
            f"online {self.online_recall:.4f}, offline {self.offline_recall:.4f} "
            f"(gap {self.gap:.2%}); identical top-{K} lists {self.identical}/{self.users}; "
            f"users with differing model inputs {len(self.feature_mismatches)}; "
            f"unanswered events {self.unanswered}; other answerers {self.foreign or 'none'}"
        )


def answerer(answer: Mapping[str, Any]) -> str:
    """Who answered: the model version, the rules version when rules were applied, and the
    strategy when it was not the model (a user with one event, answered from trending)."""
    rules = answer.get("rules_version")
    strategy = answer.get("strategy", "model")
    return (
        str(answer["model_version"])
        + ("" if rules is None else f" with rules {rules}")
        + ("" if strategy == "model" else f" via {strategy}")
    )


def compare_online(
    model: LoadedModel,
    check: CheckCase,
    answers: Mapping[str, Mapping[str, Any]],
    run: str,
    answerers: Mapping[str, int],
    feature_mismatches: Sequence[str] = (),
) -> CheckReport:
    """Score the job's ``answers`` (recommendation records by event id, at least each
    evaluated user's last) against the offline rankings of the same users; ``answerers``
    counts who answered every replayed event (``answerer``)."""
    version = model.version
    foreign = {who: n for who, n in answerers.items() if who != version}
    eval_set = check.case.eval_set
    rows, online, missing = [], [], []
    for row, user in enumerate(eval_set.users):
        answer = answers.get(online_id(run, check.last_event[user]))
        if answer is None:
            missing.append(user)
            continue
        rows.append(row)
        online.append([item["item_id"] for item in answer["items"]])
    features = [eval_set.features[r] for r in rows]
    truth = [eval_set.truth[r] for r in rows]
    offline = model_rankings(model, features, K, config=ScoringConfig(k=K))
    metric = f"recall_at_{K}"
    return CheckReport(
        version=version,
        users=len(rows),
        interactions=sum(len(t) for t in truth),
        online_recall=ranking_metrics(online, truth, (K,))[metric],
        offline_recall=ranking_metrics(offline, truth, (K,))[metric],
        identical=sum(a == b for a, b in zip(online, offline, strict=True)),
        missing=missing,
        unanswered=len(check.past) - sum(answerers.values()),
        foreign=foreign,
        feature_mismatches=list(feature_mismatches),
    )
