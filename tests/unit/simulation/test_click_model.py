"""Simulated users: cascade clicks on their latent taste, and CTR intervals."""

from __future__ import annotations

import numpy as np

from streamrec.model_package.package import ModelArtifacts
from streamrec.model_registry.synthetic import latent_world
from streamrec.simulation.click_model import ClickModel
from streamrec.simulation.ctr import Rate, from_feedback
from streamrec.simulation.experiment import misaligned
from tests.unit.conftest import SMALL_WORLD


def users(n: int = 30, seed: int = 1) -> ClickModel:
    return ClickModel(latent_world(SMALL_WORLD), n, seed)


def test_users_click_more_on_what_they_like_and_high_on_the_list() -> None:
    model = users()
    best = [[model.item_ids[i] for i in np.argsort(-model.attractiveness[u])[:10]]
            for u in range(model.n_users)]  # fmt: skip
    worst = [list(reversed(b)) for b in best]
    liked = np.mean([model.expected_ctr(u, best[u]) for u in range(model.n_users)])
    reversed_ = np.mean([model.expected_ctr(u, worst[u]) for u in range(model.n_users)])
    assert liked > reversed_  # the same items, read top down: position matters
    clicks = [model.respond(u, best[u]) for u in range(model.n_users) for _ in range(20)]
    rate = np.mean([r.clicked is not None for r in clicks])
    assert abs(rate - liked) < 0.1
    positions = [r.clicked for r in clicks if r.clicked is not None]
    assert np.mean(np.asarray(positions) < 3) > 0.5
    assert all(r.purchased is False for r in clicks if r.clicked is None)


def test_the_same_seed_gives_the_same_users_and_items_the_log_has() -> None:
    a, b = users(seed=4), users(seed=4)
    assert np.array_equal(a.attractiveness, b.attractiveness)
    assert a.item_ids == [f"i{n}" for n in range(SMALL_WORLD.n_items)]
    assert 0.0 < a.attraction(0, "an-item-the-world-lacks") < 0.1


def test_wilson_intervals_separate_only_with_enough_evidence() -> None:
    assert Rate(0, 0).interval() is None
    low, high = Rate(10, 0).interval() or (None, None)
    assert low == 0.0 and 0.2 < high < 0.35  # zero clicks still leaves room above
    assert Rate(1000, 300).clearly_above(Rate(1000, 200))
    assert not Rate(20, 6).clearly_above(Rate(20, 4))


def test_feedback_records_sum_per_version_and_skip_hit_rates() -> None:
    records = [
        b'{"model_version": "1", "impressions": 10, "clicks": 3}',
        b'{"model_version": "1", "impressions": 5, "clicks": 1}',
        b'{"model_version": "1", "recommendations": 9, "hits": 2}',
    ]
    rate = from_feedback(records)["1"]
    assert (rate.shown, rate.clicked) == (15, 4)


def test_the_broken_model_names_every_vector_after_another_item() -> None:
    artifacts = ModelArtifacts(None, None, None, [f"i{n}" for n in range(50)], [],  # type: ignore[arg-type]
                               np.zeros((50, 2)), np.zeros(50), np.zeros((50, 1)))  # fmt: skip
    broken = misaligned(artifacts, seed=2)
    assert sorted(broken.item_ids) == sorted(artifacts.item_ids)
    assert sum(a == b for a, b in zip(broken.item_ids, artifacts.item_ids, strict=True)) < 5
