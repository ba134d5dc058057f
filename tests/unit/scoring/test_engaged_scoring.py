"""The engaged-item history in scoring: lookup, candidate merge, whole-history filter, blend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from streamrec.model_package.package import LoadedModel, load_package
from streamrec.model_registry.evaluate import model_rankings
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.model_registry.transitions import fit_transitions
from streamrec.scoring.engaged import EngagedRows
from streamrec.scoring.filters import keep_mask
from streamrec.scoring.pipeline import PRIOR_CANDIDATES, ScoringConfig, gather, score_batch
from streamrec.scoring.ranking import blend, blend_terms, lightness
from streamrec.scoring.retrieval import merge_candidates
from streamrec.scoring.transitions import CANDIDATES as TRANSITION_CANDIDATES
from streamrec.state.features import (
    ScoringUse,
    UserFeatures,
    default_spec,
    empty,
    model_spec,
    update,
)


def test_lookup_finds_each_candidate_in_its_own_users_history() -> None:
    index = {"a": 1, "b": 2, "c": 3, "d": 4}
    batch = [
        UserFeatures(engaged_items=("c", "zz", "a"), engaged_counts=(1, 5, 3)),
        UserFeatures(),
    ]
    engaged = EngagedRows.of(batch, index, n_items=4)
    assert engaged.rows.tolist() == [[2, 0, -1], [-1, -1, -1]]  # unknown "zz" skipped
    assert engaged.counts.tolist() == [[1, 3, 0], [0, 0, 0]]
    at = engaged.lookup(np.array([[0, 2, 3, -1], [0, 2, 3, -1]]))
    assert at.tolist() == [[1, 0, -1, -1], [-1, -1, -1, -1]]
    restored = EngagedRows.of([UserFeatures(engaged_items=("b", "a"))], index, n_items=4)
    assert (restored.rows.tolist(), restored.counts.tolist()) == ([[1, 0]], [[1, 1]])


def test_merge_scores_extras_by_inner_product_and_drops_duplicates() -> None:
    embeddings = np.eye(4, dtype=np.float32)
    users = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    candidates = np.array([[3, 2]])
    scores = np.array([[0.4, 0.3]], dtype=np.float32)
    rows, vals = merge_candidates(candidates, scores, np.array([[2, 0, -1]]), users, embeddings)
    assert rows.tolist() == [[3, 2, -1, 0, -1]]
    assert vals[0, [0, 1, 3]] == pytest.approx([0.4, 0.3, 0.1])
    assert np.isneginf(vals[0, [2, 4]]).all()


def test_the_whole_history_filter_drops_engaged_candidates() -> None:
    candidates = np.array([[0, 1, 2]])
    recent = np.array([[1, 0]])  # 1-based: row 0
    engaged = np.array([[False, False, True]])
    assert keep_mask(candidates, recent, None, None).tolist() == [[False, True, True]]
    assert keep_mask(candidates, recent, None, None, engaged).tolist() == [[False, True, False]]


def test_blend_terms_and_weights() -> None:
    candidates = np.array([[0, 1, 2]])
    terms = blend_terms(
        candidates,
        np.array([[0.5, -np.inf, 0.1]]),
        np.array([[4.0, 1.0], [5.0, 2.0], [6.0, 3.0]], dtype=np.float32),
        engaged_at=np.array([[-1, 1, 0]]),
        engaged_counts=np.array([[4, 2]]),
        history_length=np.array([20]),
    )
    assert terms["retrieval"].tolist() == [[0.5, 0.0, 0.1]]
    assert terms["recent_popularity"].tolist() == [[1.0, 2.0, 3.0]]
    assert terms["popularity"].tolist() == [[4.0, 5.0, 6.0]]
    # 20 engaged items: lightness 1 / (1 + 20 / 20) = 0.5.
    assert terms["popularity_light"][0] == pytest.approx([2.0, 2.5, 3.0])
    assert terms["recent_popularity_light"][0] == pytest.approx([0.5, 1.0, 1.5])
    assert terms["engaged"].tolist() == [[0.0, 1.0, 1.0]]
    assert terms["engaged_rank"][0] == pytest.approx([0.0, np.log(2), 0.0])
    assert terms["engaged_count"][0] == pytest.approx([0.0, np.log(3), np.log(5)])
    scores = blend(terms, (("retrieval", 2.0), ("engaged", 1.0)))
    assert scores[0] == pytest.approx([1.0, 1.0, 1.2])


def test_lightness_falls_with_the_history() -> None:
    assert lightness(np.array([0, 20, 180])) == pytest.approx([1.0, 0.5, 0.1])
    no_history = blend_terms(
        np.array([[0]]),
        np.array([[0.0]]),
        np.array([[2.0, 1.0]]),
        np.array([[-1]]),
        np.zeros((1, 0), np.int64),
    )
    assert no_history["popularity_light"].tolist() == [[2.0]]  # a user without history


@pytest.fixture(scope="module")
def retrieval_model(package_bytes: bytes) -> LoadedModel:
    return dataclasses.replace(load_package(package_bytes, default_spec()), ranker=None)


@pytest.fixture(scope="module")
def users(small_data: GeneratedData) -> list[UserFeatures]:
    states: dict[str, UserFeatures] = {}
    for e in small_data.events:
        states[e.user_id] = update(states.get(e.user_id, empty()), e, small_data.item_categories)
    return [*[states[u] for u in sorted(states)][:60], empty()]


def with_use(model: LoadedModel, use: ScoringUse) -> LoadedModel:
    spec = model_spec(model.manifest.feature_spec.half_life_ms, use)
    manifest = dataclasses.replace(model.manifest, feature_spec=spec)
    return dataclasses.replace(model, manifest=manifest, cache={})


def test_a_consume_once_model_never_recommends_anything_in_the_history(
    retrieval_model: LoadedModel, users: list[UserFeatures]
) -> None:
    model = with_use(retrieval_model, ScoringUse("engaged", False, ()))
    result = score_batch(model, users, ScoringConfig(k=20))
    assert any(len(f.engaged_items) > len(f.recent_items) for f in users)
    for feats, recs in zip(users, result.recommendations, strict=True):
        assert not {r.item_id for r in recs} & set(feats.engaged_items)
        assert len(recs) == 20
    plain = score_batch(retrieval_model, users, ScoringConfig(k=20)).recommendations
    assert any(
        {r.item_id for r in recs} & set(f.engaged_items)
        for f, recs in zip(users, plain, strict=True)
    )


def test_re_engagement_candidates_join_and_the_blend_orders_them(
    retrieval_model: LoadedModel, users: list[UserFeatures]
) -> None:
    # Own earlier items first, newest first; then retrieval.
    use = ScoringUse("recent", True, (("retrieval", 1.0), ("engaged", 1e4), ("engaged_rank", -1e3)))
    model = with_use(retrieval_model, use)
    recs = score_batch(model, users, ScoringConfig(k=20)).recommendations
    for feats, rec in zip(users, recs, strict=True):
        known = set(model.item_ids)
        own = [i for i in feats.engaged_items if i not in feats.recent_items and i in known]
        got = [r.item_id for r in rec]
        assert got[: min(len(own), 20)] == own[:20]
        assert not set(got) & set(feats.recent_items)
        assert len(got) == len(set(got))


def test_rankings_do_not_depend_on_batch_composition_with_a_scoring_use(
    retrieval_model: LoadedModel, users: list[UserFeatures]
) -> None:
    use = ScoringUse(
        "engaged",
        True,
        (
            ("retrieval", 5.0),
            ("recent_popularity", 0.5),
            ("popularity", -0.2),
            ("popularity_light", 1.0),
            ("recent_popularity_light", 0.3),
            ("engaged", -1.0),
        ),
    )
    model = with_use(retrieval_model, use)
    whole = model_rankings(model, users, k=20, batch_size=1024)
    pieces = [
        r
        for start in range(0, len(users), 7)
        for r in model_rankings(model, users[start : start + 7], k=20)
    ]
    assert pieces == whole


def test_popularity_terms_bring_the_most_popular_items_into_the_candidates(
    retrieval_model: LoadedModel, users: list[UserFeatures]
) -> None:
    # Few retrieved candidates, so the popular ones must come from the added source.
    config = ScoringConfig(k=10, num_candidates=1)
    use = ScoringUse("recent", False, (("popularity_light", 1.0),))
    found = gather(retrieval_model, users, config, use)
    dense = retrieval_model.item_dense
    top = np.lexsort((np.arange(len(dense)), -dense[:, 0]))[:PRIOR_CANDIDATES]
    assert all(set(top) <= set(row) for row in found.rows.tolist())
    plain = gather(retrieval_model, users, config, ScoringUse("recent", False, ()))
    assert plain.rows.shape[1] < found.rows.shape[1]
    # Popularity alone, for a user without history: the most popular items in order.
    model = with_use(retrieval_model, ScoringUse("recent", False, (("popularity", 1.0),)))
    recs = score_batch(model, [empty()], config).recommendations[0]
    assert [r.item_id for r in recs] == [retrieval_model.item_ids[r] for r in top[:10]]


def test_transitions_bring_where_the_history_leads_into_candidates_and_blend(
    retrieval_model: LoadedModel, users: list[UserFeatures], small_data: GeneratedData
) -> None:
    index = retrieval_model.vectorizer.item_index
    rows = fit_transitions(small_data.events, index)
    model = dataclasses.replace(retrieval_model, transitions=rows, cache={})
    config = ScoringConfig(k=10, num_candidates=1)
    use = ScoringUse("engaged", False, (("retrieval", 1.0), ("transition", 100.0)))
    found = gather(model, users, config, use)
    engaged = EngagedRows.of(users, index, len(model.item_ids))
    leads = rows.for_users(engaged.rows)
    best = leads.top(TRANSITION_CANDIDATES)
    for user, row in enumerate(found.rows.tolist()):
        assert set(best[user][best[user] >= 0]) <= set(row)
    np.testing.assert_allclose(found.terms["transition"], np.log1p(leads.lookup(found.rows)))
    assert (found.terms["transition"][-1] == 0).all()  # the user without history
    # Weighed heavily, the top of each list is the best transitions the filter keeps.
    scored = with_use(model, use)
    recs = score_batch(scored, users[:20], config).recommendations
    for feats, rec, top in zip(users[:20], recs, best[:20], strict=True):
        seen = {*feats.recent_items, *feats.engaged_items}
        kept = [model.item_ids[r] for r in top if r >= 0 and model.item_ids[r] not in seen]
        assert [r.item_id for r in rec][:3] == kept[:3]
    # Without the rows in the package, the term is 0 and no candidates are added.
    plain = gather(retrieval_model, users, config, use)
    assert (plain.terms["transition"] == 0).all()
    assert plain.rows.shape[1] < found.rows.shape[1]
