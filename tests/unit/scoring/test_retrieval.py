import numpy as np
import pytest

from streamrec.scoring.retrieval import BruteForceRetriever, HnswRetriever, build_retriever, top_k

rng = np.random.default_rng(0)
ITEMS = rng.normal(size=(500, 16)).astype(np.float32)
QUERIES = rng.normal(size=(8, 16)).astype(np.float32)


@pytest.mark.parametrize("backend", ["brute", "hnsw"])
def test_backends_agree_with_exact_top_k(backend: str) -> None:
    rows, scores = build_retriever(ITEMS, backend).search(QUERIES, 10)
    exact = np.argsort(-(QUERIES @ ITEMS.T), axis=1)[:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows, exact, strict=True)])
    assert overlap >= (1.0 if backend == "brute" else 0.9)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_ties_broken_by_lower_row_and_short_catalogue_padded() -> None:
    rows, scores = top_k(np.array([[1.0, 2.0, 2.0, 0.5]], dtype=np.float32), 6)
    assert rows.tolist() == [[1, 2, 0, 3, -1, -1]]
    assert np.isneginf(scores[0, -1])


def test_auto_picks_brute_force_for_small_catalogues() -> None:
    assert isinstance(build_retriever(ITEMS, "auto"), BruteForceRetriever)
    assert isinstance(build_retriever(ITEMS, "hnsw"), HnswRetriever)
    with pytest.raises(ValueError, match="backend"):
        build_retriever(ITEMS, "annoy")
