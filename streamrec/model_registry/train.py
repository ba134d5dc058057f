"""Training pipeline: time split, fold events into features, fit towers and ranker,
package, and evaluate the package through the shared scoring path on the future slice."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_package.package import ModelArtifacts, build_package, load_package
from streamrec.model_package.vectorizer import FeatureVectorizer
from streamrec.model_registry.blend import fit_blend, repeat_rate, scoring_use
from streamrec.model_registry.comparison import compare
from streamrec.model_registry.errors import DataError
from streamrec.model_registry.examples import fold, item_popularity
from streamrec.model_registry.protocols import (
    EvalCase,
    leave_last_case,
    recent_start,
    rolling_origins,
    temporal_case,
)
from streamrec.model_registry.ranker import build_ranker, fit_ranker
from streamrec.model_registry.serving_log import LoggedExamples
from streamrec.model_registry.transitions import fit_transitions
from streamrec.model_registry.two_tower import build_towers, fit_two_tower, item_embeddings
from streamrec.scoring.filters import keep_mask
from streamrec.scoring.pipeline import embed_users
from streamrec.scoring.ranking import ranker_inputs
from streamrec.scoring.retrieval import top_k
from streamrec.scoring.transitions import ItemTransitions
from streamrec.state.features import (
    DEFAULT_HALF_LIFE_MS,
    RECENT_ITEMS_CAP,
    UNKNOWN_CATEGORY,
    ScoringUse,
    model_spec,
)


@dataclass(frozen=True)
class TrainConfig:
    embedding_dim: int = 64
    epochs: int = 4
    batch_size: int = 1024
    learning_rate: float = 3e-3
    temperature: float = 0.1
    future_fraction: float = 0.15
    """Share of events (the newest) held out as the future slice."""
    blend_origins: int = 5
    """At most this many inner temporal splits (consecutive origins, protocols.rolling_origins)
    fit the blend, pooled: origins are added until their users reach blend_inner_users.
    Each trains the towers once more. One inner split of a ratings log holds 8-20 users;
    pooling lifted the rolling protocol's Recall@20 by 3-12% there (docs/quality.md)."""
    blend_inner_users: int = 100
    """Inner users enough to fit the blend's weights: a log whose newest inner split has
    them (Taobao: 700; the generated world: 1,500) is fitted on that split alone."""
    max_examples: int = 200_000
    use_ranker: bool = True
    """The ranker is part of the full scoring path the benchmarks and soak tests measure,
    so the library default keeps it; ``streamrec model train``/``evaluate`` leave it out
    unless ``--ranker``: on the real logs of docs/quality.md it cut Recall@20 on three
    splits of four (e.g. MovieLens-small leave-last-5: 0.035 vs 0.130 for retrieval)."""
    finetune_epochs: int = 1
    ranker_split: str = "temporal"
    """How the ranker's own labels are cut from the training events: ``temporal`` (the
    window before a global cut: the streaming task) or ``leave_last`` (each user's last
    ``ranker_leave_out`` engagements), to mirror the protocol a model is judged by."""
    ranker_leave_out: int = 5
    ranker_users: int = 4000
    ranker_candidates: int = 100
    half_life_ms: int = DEFAULT_HALF_LIFE_MS
    seed: int = 0
    skip_recent_targets: bool = False
    """Train only on engagements with an item outside the user's recent_items (which the
    serving path never recommends). Off: on the Taobao log it halved Recall@20 (0.0121
    -> 0.0059, temporal split); predicting the repeat views still shapes the item space."""
    mask_duplicates: bool = True
    """See two_tower.fit_two_tower."""
    full_catalog: bool = False
    """Serve every item in the catalogue, not only those seen in training; unseen ones are
    cold-start items (category-driven embeddings). Benchmarks use it to fix catalogue size."""
    engaged_history: bool = True
    """Let the training data decide how scoring uses the engaged-item history (model
    registry.blend.scoring_use: whole-history seen filter or re-engagement candidates) and,
    without a ranker, fit the score blend on an inner split (towers trained twice). Off:
    the scoring of earlier releases (recent_items filter, retrieval score)."""
    transitions: bool = True
    """With engaged_history, the blend also weighs where the user's newest engaged items
    lead (scoring.transitions; the package carries the transition rows). Off: the blend of
    the previous release."""

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    artifacts: ModelArtifacts
    metrics: dict[str, float]
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Fitted:
    artifacts: ModelArtifacts
    losses: list[float]
    timings: dict[str, float] = field(default_factory=dict)


def train(
    events: Sequence[Event],
    item_categories: Mapping[str, str],
    config: TrainConfig,
    logged: LoggedExamples | None = None,
) -> TrainResult:
    """Train on the past, evaluate on the future; ``events`` must be sorted by ts.

    ``logged``: the towers learn from the serving log's examples (model_registry.
    serving_log) before the cut instead of folding ``events`` (which are then the log's
    triggering events: they still give the catalogue, popularity and the evaluation).

    Metrics: the model's Recall@K/NDCG@K, ``retrieval_*`` for the same model without its
    ranker, and ``pop_``/``recent_pop_``/``cooc_`` for the baselines on the same split.
    """
    case = temporal_case(events, item_categories, config.future_fraction, config.half_life_ms)
    fitted = fit(case.train_events, item_categories, config, logged)
    clock = time.perf_counter()
    model = load_package(
        build_package(fitted.artifacts, "candidate", "0", {}), fitted.artifacts.feature_spec
    )
    metrics = flat_metrics(compare(model, case))
    fitted.timings["evaluate_s"] = time.perf_counter() - clock
    metrics["eval_users"] = float(len(case.eval_set.users))
    metrics["eval_interactions"] = float(case.interactions)
    metrics["train_examples"] = fitted.artifacts.params["train_examples"]
    return TrainResult(fitted.artifacts, metrics, fitted.timings)


def flat_metrics(table: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """compare()'s table as MLflow metric names; the model's own carry no prefix."""
    out: dict[str, float] = {}
    for method, values in table.items():
        prefix = "" if method == "model" else f"{METRIC_PREFIX.get(method, method)}_"
        out.update({f"{prefix}{name}": v for name, v in values.items()})
    pop = out.get("pop_recall_at_20")
    if pop:
        out["recall_at_20_lift"] = out["recall_at_20"] / pop
    return out


METRIC_PREFIX = {"popularity": "pop", "recent_popularity": "recent_pop", "cooccurrence": "cooc"}


def fit(
    train_events: Sequence[Event],
    item_categories: Mapping[str, str],
    config: TrainConfig,
    logged: LoggedExamples | None = None,
) -> Fitted:
    """Fit the towers (and the ranker) on ``train_events`` (sorted by ts) alone; with
    ``logged``, the towers' examples are its logged ones labelled before the last of
    ``train_events`` (the ranker's and the blend's inner splits still fold events)."""
    import keras

    keras.utils.set_random_seed(config.seed)
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    popularity = item_popularity(train_events)
    item_ids = sorted(popularity, key=lambda i: (-popularity[i], i))
    if config.full_catalog:
        item_ids += sorted(set(item_categories) - set(popularity))
    categories = sorted({item_categories.get(i, UNKNOWN_CATEGORY) for i in item_ids})
    vectorizer = FeatureVectorizer(item_ids, categories)
    item_cat = np.array(
        [vectorizer.category_index[item_categories.get(i, UNKNOWN_CATEGORY)] + 1 for i in item_ids],
        dtype=np.int32,
    )
    counts = np.array([popularity[i] for i in item_ids], dtype=np.float64)
    log_prob = np.log(counts / counts.sum()).astype(np.float32)

    def examples(
        events: Sequence[Event],
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        folded = fold(
            events,
            item_categories,
            half_life_ms=config.half_life_ms,
            max_examples=config.max_examples,
            seed=config.seed,
        )
        inputs = vectorizer.transform(folded.example_features)
        targets = np.array([vectorizer.item_index[i] for i in folded.example_items], np.int32)
        if config.skip_recent_targets:
            fresh = ~(inputs["recent_items"] == targets[:, None]).any(axis=1)
            inputs, targets = _rows(inputs, fresh), targets[fresh]
        return inputs, targets

    if logged is None:
        inputs, targets = examples(train_events)
    else:
        inputs, targets = logged_inputs(logged, vectorizer, train_events[-1].ts + 1, config)
    timings["prepare_s"] = time.perf_counter() - clock

    towers = build_towers(
        len(item_ids), len(categories), vectorizer.activity_width, config.embedding_dim
    )

    def fit_towers(inputs: dict[str, np.ndarray], targets: np.ndarray, epochs: int) -> list[float]:
        return fit_two_tower(
            towers,
            inputs,
            targets,
            item_cat[targets - 1],
            log_prob[targets - 1],
            epochs=epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            temperature=config.temperature,
            seed=config.seed,
            mask_duplicates=config.mask_duplicates,
        )

    cut = train_events[-1].ts + 1
    ranker = None
    clock = time.perf_counter()
    if config.use_ranker:
        # The ranker learns on a split of the training events made like the evaluation's
        # (ranker_split): its users' features at the inner cut, labelled by what they
        # engaged with after it. The towers that retrieve its candidates first learn
        # without those labels: a retrieval score fitted on the ranker's own labels leaks
        # them (generated data: Recall@20 lift 1.56 with the leak vs 2.08 without).
        inner = _ranker_case(train_events, item_categories, config)
        losses = fit_towers(*examples(inner.train_events), config.epochs)
        timings["two_tower_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        ranker = _train_ranker(
            config,
            towers.user_tower,
            vectorizer,
            item_embeddings(towers.item_tower, item_cat),
            item_cat,
            inner,
        )
        timings["ranker_s"] = time.perf_counter() - clock
        # Then a pass over all examples so the towers know the newest items too.
        clock = time.perf_counter()
        losses += fit_towers(inputs, targets, config.finetune_epochs)
        timings["finetune_s"] = time.perf_counter() - clock
    else:
        losses = fit_towers(inputs, targets, config.epochs)
        timings["two_tower_s"] = time.perf_counter() - clock

    use, blend_metrics = None, {}
    if config.engaged_history:
        clock = time.perf_counter()
        use, blend_metrics = _scoring_use(train_events, item_categories, config)
        timings["blend_s"] = time.perf_counter() - clock
    artifacts = ModelArtifacts(
        feature_spec=model_spec(config.half_life_ms, use),
        user_tower=towers.user_tower,
        ranker=ranker,
        item_ids=item_ids,
        categories=categories,
        item_embeddings=item_embeddings(towers.item_tower, item_cat),
        item_categories=item_cat,
        item_dense=item_dense(train_events, item_ids, recent_start(train_events)),
        transitions=_transitions_for(use, train_events, item_ids),
        params={
            **config.params(),
            "split_ts": cut,
            "train_loss": losses,
            "train_examples": float(len(targets)),
            **blend_metrics,
        },
    )
    return Fitted(artifacts, losses, timings)


def logged_inputs(
    logged: LoggedExamples, vectorizer: FeatureVectorizer, before_ts: int, config: TrainConfig
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The towers' inputs and targets from logged examples labelled before ``before_ts``
    (the held-out future stays unseen), sampled like ``fold`` does past max_examples."""
    keep = [
        n
        for n, (item, ts) in enumerate(zip(logged.items, logged.ts, strict=True))
        if ts < before_ts and item in vectorizer.item_index
    ]
    if not keep:
        raise DataError(f"the serving log has no example labelled before {before_ts}")
    if len(keep) > config.max_examples:
        rng = np.random.default_rng(config.seed)
        keep = sorted(rng.choice(keep, size=config.max_examples, replace=False).tolist())
    inputs = vectorizer.transform([logged.features[n] for n in keep])
    targets = np.array([vectorizer.item_index[logged.items[n]] for n in keep], np.int32)
    if config.skip_recent_targets:
        fresh = ~(inputs["recent_items"] == targets[:, None]).any(axis=1)
        inputs, targets = _rows(inputs, fresh), targets[fresh]
    return inputs, targets


def _scoring_use(
    train_events: Sequence[Event], item_categories: Mapping[str, str], config: TrainConfig
) -> tuple[ScoringUse, dict[str, float]]:
    """The model's ScoringUse (model_registry.blend) and what deciding it measured. With a
    ranker there is no blend: the ranker orders the candidates."""
    rate = repeat_rate(train_events)
    use = scoring_use(rate, config.transitions)
    facts = {"repeat_rate": rate}
    if config.use_ranker:
        # The ranker learned on retrieval candidates only: it keeps the seen filter.
        return ScoringUse(use.seen_filter, False), facts
    try:
        inners = _blend_cases(train_events, item_categories, config)
    except DataError:  # too few events to cut again: no blend
        inners = []
    inners = [inner for inner in inners if inner.eval_set.users]
    if not inners:
        return ScoringUse(use.seen_filter, use.reengage), facts
    inner_config = dataclasses.replace(config, engaged_history=False)
    splits = []
    for inner in inners:
        inner_fit = fit(inner.train_events, item_categories, inner_config)
        artifacts = dataclasses.replace(
            inner_fit.artifacts,
            feature_spec=model_spec(config.half_life_ms, use),
            transitions=_transitions_for(use, inner.train_events, inner_fit.artifacts.item_ids),
        )
        package = build_package(artifacts, "inner", "0", {})
        splits.append((load_package(package, artifacts.feature_spec), inner))
    result = fit_blend(splits, use)
    facts["blend_inner_users"] = float(sum(len(inner.eval_set.users) for inner in inners))
    facts["blend_inner_recall_at_20"] = result.inner_recall_at_20
    facts["blend_inner_retrieval_recall_at_20"] = result.inner_retrieval_recall_at_20
    return result.use, facts


def _transitions_for(
    use: ScoringUse | None, events: Sequence[Event], item_ids: Sequence[str]
) -> ItemTransitions | None:
    """The item transitions of ``events`` over the catalogue ``item_ids`` if ``use``'s
    blend weighs them (a model without them carries none)."""
    if use is None or not use.weighs("transition"):
        return None
    return fit_transitions(events, {item: n + 1 for n, item in enumerate(item_ids)})


def _blend_cases(
    train_events: Sequence[Event], item_categories: Mapping[str, str], config: TrainConfig
) -> list[EvalCase]:
    """The inner splits the blend is fitted on: the ranker's split, or for a temporal
    protocol that split at consecutive origins until their users reach
    ``config.blend_inner_users`` (at most ``config.blend_origins``)."""
    if config.ranker_split == "leave_last":
        return [_ranker_case(train_events, item_categories, config)]
    origins = rolling_origins(
        train_events, item_categories, config.future_fraction, config.half_life_ms
    )
    cases, users = [], 0
    for case in itertools.islice(origins, max(config.blend_origins, 1)):
        cases.append(case)
        users += len(case.eval_set.users)
        if users >= config.blend_inner_users:
            break
    return cases


def _ranker_case(
    train_events: Sequence[Event], item_categories: Mapping[str, str], config: TrainConfig
) -> EvalCase:
    if config.ranker_split == "leave_last":
        return leave_last_case(
            train_events, item_categories, config.ranker_leave_out, config.half_life_ms
        )
    return temporal_case(train_events, item_categories, config.future_fraction, config.half_life_ms)


def _rows(arrays: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in arrays.items()}


def item_dense(
    events: Sequence[Event], item_ids: Sequence[str], recent_since_ts: int
) -> np.ndarray:
    """[N, 2] float32: log1p engagements in ``events``, and in those from ``recent_since_ts``.

    The recent count lets the ranker follow popularity drift the ID embeddings miss.
    """
    total = item_popularity(events)
    recent = item_popularity(events, since_ts=recent_since_ts)
    out = np.array([[total[i], recent[i]] for i in item_ids], dtype=np.float32)
    return np.log1p(out)


def _train_ranker(
    config: TrainConfig,
    user_tower: Any,
    vectorizer: FeatureVectorizer,
    embeddings: np.ndarray,
    item_cat: np.ndarray,
    inner: EvalCase,
) -> Any:
    """Fit the ranker on retrieval candidates for ``inner``'s users, labelled by its truth."""
    window_set = inner.eval_set
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.permutation(len(window_set.users))[: config.ranker_users])
    feats = [window_set.features[i] for i in chosen]
    truth = [window_set.truth[i] for i in chosen]
    arrays = vectorizer.transform(feats)
    candidates, scores = top_k(
        embed_users(user_tower, arrays) @ embeddings.T, config.ranker_candidates + RECENT_ITEMS_CAP
    )
    keep = keep_mask(candidates, arrays["recent_items"], None, None).reshape(-1)
    dense = item_dense(inner.train_events, vectorizer.item_ids, inner.recent_since_ts)
    inputs = ranker_inputs(arrays, candidates, scores, item_cat, dense)
    ids = vectorizer.item_ids
    labels = np.array(
        [[ids[c] in t for c in row] for row, t in zip(candidates, truth, strict=True)]
    ).reshape(-1)
    inputs = {k: v[keep] for k, v in inputs.items()}
    ranker = build_ranker(len(vectorizer.categories), inputs["user_dense"].shape[1], dense.shape[1])
    fit_ranker(ranker, inputs, labels[keep], seed=config.seed)
    return ranker
