from streamrec.model_package.package import load_package
from streamrec.model_registry.comparison import compare, without_ranker
from streamrec.model_registry.evaluate import model_rankings
from streamrec.model_registry.protocols import temporal_case
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.model_registry.train import TrainResult
from streamrec.scoring.pipeline import compiled
from streamrec.state.features import default_spec


def test_retrieval_only_copy_does_not_reuse_the_compiled_ranker(
    trained: TrainResult, package_bytes: bytes, small_data: GeneratedData
) -> None:
    model = load_package(package_bytes, default_spec())
    case = temporal_case(small_data.events, small_data.item_categories)
    model_rankings(model, case.eval_set.features[:5], 20)  # traces the ranker into the cache
    assert compiled(model, "ranker") is not None
    bare = without_ranker(model)
    assert compiled(bare, "ranker") is None
    assert model.cache.get("compiled:ranker") is not None  # the original keeps its own


def test_compare_reports_model_retrieval_and_every_baseline(
    package_bytes: bytes, small_data: GeneratedData
) -> None:
    model = load_package(package_bytes, default_spec())
    case = temporal_case(small_data.events, small_data.item_categories)
    table = compare(model, case, ks=(10, 20))
    assert list(table) == [
        "model", "retrieval", "popularity", "recent_popularity", "cooccurrence"
    ]  # fmt: skip
    for values in table.values():
        assert 0.0 <= values["recall_at_10"] <= values["recall_at_20"] <= 1.0
