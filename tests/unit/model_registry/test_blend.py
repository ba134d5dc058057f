"""How the training data decides the scoring use, and the blend fitted on an inner split."""

from __future__ import annotations

import dataclasses

import numpy as np

from streamrec.contracts.event import Event
from streamrec.model_package.package import build_package, load_package, read_manifest
from streamrec.model_registry.blend import (
    REPEAT_RATE_MIN,
    keeps_blend,
    repeat_rate,
    scoring_use,
)
from streamrec.model_registry.examples import fold
from streamrec.model_registry.protocols import rolling_cases
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.model_registry.train import fit
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.state.features import default_spec, model_spec
from tests.unit.conftest import SMALL_TRAIN


def _events(rows: list[tuple[str, str, str]]) -> list[Event]:
    return [Event(str(n), u, i, t, n) for n, (u, i, t) in enumerate(rows)]


def test_repeat_rate_counts_engagements_with_an_item_the_user_had_before() -> None:
    events = _events(
        [("u1", "a", "view"), ("u1", "a", "purchase"), ("u2", "a", "view"),
         ("u1", "b", "impression"), ("u1", "b", "view")]
    )  # fmt: skip
    assert repeat_rate(events) == 1 / 4  # the impression is not an engagement
    assert repeat_rate([]) == 0.0


def test_a_consume_once_log_filters_the_whole_history_and_a_repeat_log_reengages() -> None:
    ratings = _events([(f"u{n % 7}", f"m{n}", "view") for n in range(300)])
    use = scoring_use(repeat_rate(ratings))
    assert (use.seen_filter, use.reengage) == ("engaged", False)
    assert [t for t, _ in use.blend] == [
        "retrieval",
        "recent_popularity",
        "popularity",
        "popularity_light",
        "recent_popularity_light",
        "transition",
    ]
    assert "transition" not in {t for t, _ in scoring_use(0.0, transitions=False).blend}
    shop = _events([(f"u{n % 7}", f"i{n % 30}", "view") for n in range(300)])
    assert repeat_rate(shop) > REPEAT_RATE_MIN
    use = scoring_use(repeat_rate(shop))
    assert (use.seen_filter, use.reengage) == ("recent", True)
    assert {"engaged", "engaged_rank", "engaged_count", "transition"} <= {t for t, _ in use.blend}
    assert not {"popularity", "popularity_light"} & {t for t, _ in use.blend}


def test_training_without_ranker_fits_a_blend_that_travels_in_the_package(
    small_data: GeneratedData,
) -> None:
    config = dataclasses.replace(SMALL_TRAIN, use_ranker=False)
    fitted = fit(small_data.events, small_data.item_categories, config)
    spec = fitted.artifacts.feature_spec
    assert spec.scoring is not None and spec.scoring.blend
    assert spec.scoring.reengage == (fitted.artifacts.params["repeat_rate"] >= REPEAT_RATE_MIN)
    assert "blend_inner_recall_at_20" in fitted.artifacts.params
    # The package carries the transition rows exactly when the blend weighs them.
    weighs = any(t == "transition" for t, _ in spec.scoring.blend)
    assert (fitted.artifacts.transitions is not None) == weighs
    package = build_package(fitted.artifacts, "m", "1", {}, created_ms=1)
    assert read_manifest(package).feature_spec == spec
    model = load_package(package, default_spec())
    users = [f for f in fold(small_data.events, small_data.item_categories).states.values()]
    recs = score_batch(model, users[:30], ScoringConfig(k=10)).recommendations
    assert all(len(r) == 10 for r in recs)


def test_without_the_history_a_model_scores_as_before(small_data: GeneratedData) -> None:
    config = dataclasses.replace(SMALL_TRAIN, use_ranker=False, engaged_history=False)
    fitted = fit(small_data.events[:20_000], small_data.item_categories, config)
    assert fitted.artifacts.feature_spec == model_spec(config.half_life_ms, None)
    assert "scoring" not in fitted.artifacts.feature_spec.to_dict()


def test_the_blend_stays_unless_retrieval_alone_wins_beyond_the_noise() -> None:
    # Eight users, retrieval alone ahead on average but within two standard errors.
    blended = np.array([0.0, 0.1, 0.0, 0.05, 0.0, 0.0, 0.1, 0.05])
    plain = np.array([0.1, 0.0, 0.05, 0.1, 0.0, 0.02, 0.05, 0.1])
    assert plain.mean() > blended.mean()
    assert keeps_blend(blended, plain)
    # Retrieval alone ahead for every user: it replaces the blend.
    assert not keeps_blend(np.full(8, 0.01), np.full(8, 0.02) + np.linspace(0, 0.001, 8))
    assert keeps_blend(np.array([0.2]), np.array([0.1]))
    assert not keeps_blend(np.array([0.1]), np.array([0.2]))


def test_without_transitions_the_blend_and_the_package_leave_them_out(
    small_data: GeneratedData,
) -> None:
    config = dataclasses.replace(SMALL_TRAIN, use_ranker=False, transitions=False)
    fitted = fit(small_data.events[:20_000], small_data.item_categories, config)
    scoring = fitted.artifacts.feature_spec.scoring
    assert scoring is not None and "transition" not in {t for t, _ in scoring.blend}
    assert fitted.artifacts.transitions is None
    assert read_manifest(build_package(fitted.artifacts, "m", "1", {})).transition_count is None


def test_the_blend_is_fitted_on_every_inner_origin_it_is_given(small_data: GeneratedData) -> None:
    """blend_origins pools the users of up to that many consecutive inner temporal splits,
    and stops adding them once they hold blend_inner_users."""
    cases = rolling_cases(small_data.events, small_data.item_categories, 2)
    newest, both = len(cases[0].eval_set.users), sum(len(c.eval_set.users) for c in cases)
    users = {}
    for origins, enough in ((1, 10**9), (2, 10**9), (2, newest)):
        config = dataclasses.replace(
            SMALL_TRAIN, use_ranker=False, blend_origins=origins, blend_inner_users=enough
        )
        fitted = fit(small_data.events, small_data.item_categories, config)
        users[origins, enough] = fitted.artifacts.params["blend_inner_users"]
    assert users == {(1, 10**9): newest, (2, 10**9): both, (2, newest): newest}
    assert both > newest
