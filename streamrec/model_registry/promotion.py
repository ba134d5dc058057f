"""Promotion rules: may a candidate package replace the champion? Pure, no MLflow."""

from __future__ import annotations

from streamrec.model_package.package import PackageManifest
from streamrec.state.features import FeatureSpec

DEFAULT_METRICS: tuple[str, ...] = ("recall_at_20", "ndcg_at_20")


def promotion_problems(
    candidate: PackageManifest,
    champion: PackageManifest | None,
    job_spec: FeatureSpec,
    margin: float,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
) -> list[str]:
    """Reasons to refuse promotion (empty = promote).

    ``margin`` is relative: refuse when a candidate metric is below champion * (1 - margin).
    """
    where = f"version {candidate.version}"
    problems = [f"{where}: {p}" for p in candidate.feature_spec.unsupplied_by(job_spec)]
    if champion is None:
        return problems
    for name in metrics:
        ours, theirs = candidate.metrics.get(name), champion.metrics.get(name)
        if theirs is None:
            continue
        if ours is None:
            problems.append(
                f"{where} has no metric {name}; champion {champion.version} has {theirs:.4f}"
            )
        elif ours < theirs * (1.0 - margin):
            problems.append(
                f"{where} {name}={ours:.4f} is below champion {champion.version}'s {theirs:.4f} "
                f"by more than the margin {margin:.0%}"
            )
    return problems
