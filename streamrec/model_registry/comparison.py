"""One table per protocol: the model and every baseline on the same ``EvalCase``."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from streamrec.model_package.package import LoadedModel
from streamrec.model_registry.baselines import cooccurrence_rankings, popularity_rankings
from streamrec.model_registry.evaluate import KS, model_rankings, ranking_metrics
from streamrec.model_registry.protocols import EvalCase

BASELINES: tuple[str, ...] = ("popularity", "recent_popularity", "cooccurrence")


def without_ranker(model: LoadedModel) -> LoadedModel:
    """The same version scored by retrieval alone.

    ``cache`` must start empty: ``udfs.scoring.compiled`` keeps the traced ranker there,
    and a copy sharing the dict scored with the ranker it was meant to leave out.
    """
    return dataclasses.replace(model, ranker=None, cache={})


def compare(
    model: LoadedModel | None, case: EvalCase, ks: Sequence[int] = KS
) -> dict[str, dict[str, float]]:
    """Method name -> Recall@K / NDCG@K on ``case``; ``model`` and, when the model has a
    ranker, ``retrieval`` (the same model without it), then the baselines."""
    k = max(ks)
    features, truth = case.eval_set.features, case.eval_set.truth
    rankings: dict[str, list[list[str]]] = {}
    if model is not None:
        rankings["model"] = model_rankings(model, features, k)
        if model.ranker is not None:
            rankings["retrieval"] = model_rankings(without_ranker(model), features, k)
    # The baselines get the model's seen filter: a whole-history filter lifts them too.
    use = model.manifest.feature_spec.scoring if model is not None else None
    whole = use is not None and use.seen_filter == "engaged"
    events = case.train_events
    rankings["popularity"] = popularity_rankings(events, features, k, whole_history=whole)
    rankings["recent_popularity"] = popularity_rankings(
        events, features, k, since_ts=case.recent_since_ts, whole_history=whole
    )
    rankings["cooccurrence"] = cooccurrence_rankings(events, features, k, whole_history=whole)
    return {name: ranking_metrics(ranked, truth, ks) for name, ranked in rankings.items()}
