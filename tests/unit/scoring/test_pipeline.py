import numpy as np
import pytest

from streamrec.contracts.rules import ItemRules, ScoreOverlay
from streamrec.model_package.package import LoadedModel, load_package
from streamrec.model_registry.evaluate import model_rankings
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.state.features import UserFeatures, default_spec, empty, update


@pytest.fixture(scope="module")
def model(package_bytes: bytes) -> LoadedModel:
    return load_package(package_bytes, default_spec())


@pytest.fixture(scope="module")
def users(small_data: GeneratedData) -> list[UserFeatures]:
    states: dict[str, UserFeatures] = {}
    for e in small_data.events:
        states[e.user_id] = update(states.get(e.user_id, empty()), e, small_data.item_categories)
    return [*[states[u] for u in sorted(states)][:120], empty()]


def test_offline_evaluation_and_streaming_micro_batches_rank_identically(
    model: LoadedModel, users: list[UserFeatures]
) -> None:
    offline = model_rankings(model, users, k=20, batch_size=1024)
    # The job scores whatever arrived together: uneven micro-batches, one user alone.
    streamed: list[list[str]] = []
    start, sizes = 0, [1, 7, 64, 3, 33]
    while start < len(users):
        size = sizes[len(streamed) % len(sizes)]
        result = score_batch(model, users[start : start + size], ScoringConfig(k=20))
        streamed.extend([s.item_id for s in recs] for recs in result.recommendations)
        start += size
    assert streamed == offline
    assert all(len(r) == 20 for r in offline)


def test_seen_items_never_recommended(model: LoadedModel, users: list[UserFeatures]) -> None:
    result = score_batch(model, users, ScoringConfig(k=50))
    for feats, recs in zip(users, result.recommendations, strict=True):
        assert not {r.item_id for r in recs} & set(feats.recent_items)
    assert result.candidates_after["filtered"] < result.candidates_after["retrieved"]


def test_rule_excludes_a_category(model: LoadedModel, users: list[UserFeatures]) -> None:
    banned = model.vectorizer.categories[0]
    rules = ItemRules(exclude_categories=frozenset({banned}))
    result = score_batch(model, users[:20], ScoringConfig(k=20, rules=rules))
    cat_of = dict(zip(model.item_ids, model.item_categories, strict=True))
    assert all(cat_of[r.item_id] != 1 for recs in result.recommendations for r in recs)


def test_boost_moves_item_to_top_and_diversity_caps_category(
    model: LoadedModel, users: list[UserFeatures]
) -> None:
    base = score_batch(model, users[:5], ScoringConfig(k=20)).recommendations
    target = base[0][10].item_id
    boosted = score_batch(
        model,
        users[:5],
        ScoringConfig(k=20, overlay=ScoreOverlay(item_boosts={target: 1000.0}, max_per_category=2)),
    ).recommendations
    assert boosted[0][0].item_id == target
    cat_of = dict(zip(model.item_ids, model.item_categories, strict=True))
    for recs in boosted:
        counts = np.bincount([cat_of[r.item_id] for r in recs])
        assert counts.max() <= 2


def test_scores_descend_and_empty_batch(model: LoadedModel, users: list[UserFeatures]) -> None:
    recs = score_batch(model, users[:10], ScoringConfig(k=30)).recommendations
    for r in recs:
        scores = [s.score for s in r]
        assert scores == sorted(scores, reverse=True)
    assert score_batch(model, [], ScoringConfig()).recommendations == []


def test_rules_and_overlay_vectors_are_built_once_per_model(
    package_bytes: bytes, users: list[UserFeatures]
) -> None:
    """The job scores every batch with the same rules/overlay objects: no rebuild, no growth."""
    fresh = load_package(package_bytes, default_spec())
    config = ScoringConfig(
        k=10,
        rules=ItemRules(exclude_categories=frozenset({fresh.vectorizer.categories[0]})),
        overlay=ScoreOverlay(category_boosts={fresh.vectorizer.categories[1]: 0.5}),
    )
    first = score_batch(fresh, users[:8], config).recommendations
    entries = len(fresh.cache)
    for _ in range(3):
        assert score_batch(fresh, users[:8], config).recommendations == first
    assert len(fresh.cache) == entries
