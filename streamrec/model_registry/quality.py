"""The quality report of docs/quality.md: per log and protocol, the model vs every baseline.

``measure`` trains the default model on a protocol's training events, packages it (the
package the job would load), and scores model and baselines on the same evaluated users
through the same scoring path the streaming job uses.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from streamrec.contracts.event import Event
from streamrec.model_package.package import build_package, load_package
from streamrec.model_registry.comparison import compare
from streamrec.model_registry.evaluate import KS
from streamrec.model_registry.protocols import EvalCase, leave_last_case, temporal_case
from streamrec.model_registry.train import TrainConfig, fit, flat_metrics
from streamrec.state.features import ScoringUse

PROTOCOLS: tuple[str, ...] = ("temporal", "leave_last", "rolling")


@dataclass
class ProtocolReport:
    protocol: str
    users: int
    interactions: int
    train_events: int
    table: dict[str, dict[str, float]]
    """Method (model, baselines) -> Recall@K / NDCG@K."""
    train_s: float
    package_bytes: int
    scoring: ScoringUse | None = None
    """How the model's scoring uses the engaged-item history (decided in training)."""
    facts: dict[str, float] = field(default_factory=dict)
    """What training measured to decide it (repeat rate, inner-split Recall@20)."""
    origins: list[ProtocolReport] = field(default_factory=list)
    """A pooled rolling report's per-origin reports, newest first (``pool``)."""

    def metrics(self) -> dict[str, float]:
        """Flat names for MLflow: the model's unprefixed, baselines as pop_/cooc_/..."""
        out = flat_metrics(self.table)
        out.update(
            {
                "eval_users": float(self.users),
                "eval_interactions": float(self.interactions),
                "train_events": float(self.train_events),
                "train_s": self.train_s,
                "package_bytes": float(self.package_bytes),
                **self.facts,
            }
        )
        for k, origin in enumerate(self.origins):
            out[f"origin{k}_eval_users"] = float(origin.users)
            for method, values in origin.table.items():
                out[f"origin{k}_{method}_recall_at_20"] = values["recall_at_20"]
        if self.scoring is not None:
            out["scoring_whole_history_filter"] = float(self.scoring.seen_filter == "engaged")
            out["scoring_reengage"] = float(self.scoring.reengage)
            out.update({f"blend_weight_{t}": w for t, w in self.scoring.blend})
        return out

    def scoring_text(self) -> str:
        """One line on the model's scoring use, for the printed report."""
        use = self.scoring
        if use is None:
            return "scoring: recent-items filter, retrieval score"
        blend = ", ".join(f"{t} {w:.2f}" for t, w in use.blend) or "retrieval score"
        rate = self.facts.get("repeat_rate")
        return (
            f"scoring: {'whole-history' if use.seen_filter == 'engaged' else 'recent-items'} "
            f"seen filter, re-engagement candidates {'on' if use.reengage else 'off'}"
            + (f" (training repeat rate {rate:.3f})" if rate is not None else "")
            + f"; blend: {blend}"
        )


def make_case(
    protocol: str,
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    config: TrainConfig,
    leave_out: int = 5,
) -> EvalCase:
    if protocol == "temporal":
        return temporal_case(events, item_categories, config.future_fraction, config.half_life_ms)
    if protocol == "leave_last":
        return leave_last_case(events, item_categories, leave_out, config.half_life_ms)
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")


def config_for(protocol: str, config: TrainConfig, leave_out: int = 5) -> TrainConfig:
    """``config`` with the ranker's inner split cut like ``protocol`` cuts the log."""
    if protocol == "leave_last":
        return dataclasses.replace(config, ranker_split="leave_last", ranker_leave_out=leave_out)
    return dataclasses.replace(config, ranker_split="temporal")


def measure(
    case: EvalCase, item_categories: Mapping[str, str], config: TrainConfig
) -> ProtocolReport:
    clock = time.perf_counter()
    fitted = fit(case.train_events, item_categories, config)
    train_s = time.perf_counter() - clock
    package = build_package(fitted.artifacts, "quality", "0", {})
    model = load_package(package, fitted.artifacts.feature_spec)
    facts = {
        k: float(v)
        for k, v in fitted.artifacts.params.items()
        if k == "repeat_rate" or k.startswith("blend_inner")
    }
    return ProtocolReport(
        case.protocol,
        len(case.eval_set.users),
        case.interactions,
        len(case.train_events),
        compare(model, case),
        train_s,
        len(package),
        fitted.artifacts.feature_spec.scoring,
        facts,
    )


def pool(reports: Sequence[ProtocolReport]) -> ProtocolReport:
    """One report over several origins' (``reports``, newest first): every metric averaged
    over all evaluated (user, origin) pairs, i.e. weighted by each origin's users. The
    model facts (scoring use, package, training events) are the newest origin's, the
    model trained on the most data; training time is the sum."""
    if not reports:
        raise ValueError("nothing to pool")
    users = sum(r.users for r in reports)
    table = {
        method: {
            metric: sum(r.table[method][metric] * r.users for r in reports) / max(users, 1)
            for metric in values
        }
        for method, values in reports[0].table.items()
    }
    newest = reports[0]
    return dataclasses.replace(
        newest,
        protocol=f"rolling_{len(reports)}",
        users=users,
        interactions=sum(r.interactions for r in reports),
        table=table,
        train_s=sum(r.train_s for r in reports),
        origins=list(reports),
    )


def measure_rolling(
    cases: Sequence[EvalCase],
    item_categories: Mapping[str, str],
    config: TrainConfig,
    newest: ProtocolReport | None = None,
    on_origin: Callable[[int, EvalCase, ProtocolReport | None], None] | None = None,
) -> ProtocolReport:
    """``measure`` at each origin of ``protocols.rolling_cases``, pooled. ``newest``: the
    temporal split's report, when already measured (it is origin 0). An origin without a
    user to evaluate is skipped (``on_origin`` is told with None)."""
    reports = []
    for k, case in enumerate(cases):
        report = None
        if case.eval_set.users:
            reuse = newest if k == 0 and newest is not None else None
            report = reuse or measure(case, item_categories, config)
            reports.append(report)
        if on_origin is not None:
            on_origin(k, case, report)
    if not reports:  # nobody to evaluate anywhere: report origin 0 as temporal would
        reports = [newest or measure(cases[0], item_categories, config)]
    return pool(reports)


def markdown(report: ProtocolReport, ks: Sequence[int] = KS) -> str:
    """One table: a row per method, Recall@K and NDCG@K columns, then the model's ratio
    to each baseline at Recall@20."""
    header = ["method"] + [f"{m}@{k}" for k in ks for m in ("Recall", "NDCG")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, values in report.table.items():
        cells = [f"{values[f'{m}_at_{k}']:.4f}" for k in ks for m in ("recall", "ndcg")]
        lines.append("| " + " | ".join([method, *cells]) + " |")
    model = report.table.get("model", {}).get("recall_at_20")
    if model is not None:
        ratios = [
            f"{name} {_ratio(model, values['recall_at_20'])}"
            for name, values in report.table.items()
            if name not in ("model", "retrieval")
        ]
        lines.append("")
        lines.append("model Recall@20 vs " + ", ".join(ratios))
    return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a (baseline 0)"
