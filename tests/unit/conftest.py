"""Shared fixtures: one small model trained once per test session (a few seconds)."""

from __future__ import annotations

import pytest

from streamrec.model_registry.synthetic import GeneratedData, SyntheticConfig, generate
from streamrec.model_registry.train import TrainConfig, TrainResult, train

SMALL_WORLD = SyntheticConfig(seed=3, n_users=300, n_items=150, n_categories=6, days=14)
# With the ranker (off by default) so package and scoring tests cover both parts.
SMALL_TRAIN = TrainConfig(
    epochs=1,
    batch_size=256,
    ranker_users=200,
    max_examples=20_000,
    embedding_dim=16,
    use_ranker=True,
)


@pytest.fixture(scope="session")
def small_data() -> GeneratedData:
    return generate(SMALL_WORLD)


@pytest.fixture(scope="session")
def trained(small_data: GeneratedData) -> TrainResult:
    return train(small_data.events, small_data.item_categories, SMALL_TRAIN)


@pytest.fixture(scope="session")
def package_bytes(trained: TrainResult) -> bytes:
    from streamrec.model_package.package import build_package

    return build_package(trained.artifacts, "test-model", "1", trained.metrics, created_ms=1)
