"""The acceptance bar of issue 3 at the default generated size (about 1 minute on 2 cores)."""

from streamrec.model_registry.synthetic import SyntheticConfig, generate
from streamrec.model_registry.train import TrainConfig, train


def test_default_world_beats_popularity_on_future_recall_at_20_by_1_5x() -> None:
    data = generate(SyntheticConfig())
    result = train(data.events, data.item_categories, TrainConfig())
    assert result.metrics["recall_at_20_lift"] >= 1.5, result.metrics
    assert result.metrics["eval_users"] > 1000
