"""Transition scoring (scoring.transitions) against a dense computation of the same sums."""

import numpy as np

from streamrec.scoring.transitions import CANDIDATES, QUERY_DECAY, QUERY_ITEMS, ItemTransitions


def _random_rows(rng: np.random.Generator, n_items: int, per_row: int) -> ItemTransitions:
    lengths = rng.integers(0, per_row + 1, n_items)
    indices = np.concatenate([rng.choice(n_items, size=k, replace=False) for k in lengths]).astype(
        np.int32
    )
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    weights = rng.uniform(0.1, 2.0, len(indices)).astype(np.float32)
    return ItemTransitions(indptr, indices, weights)


def _dense(rows: ItemTransitions, n_items: int) -> np.ndarray:
    out = np.zeros((n_items, n_items))
    for r in range(n_items):
        span = slice(rows.indptr[r], rows.indptr[r + 1])
        out[r, rows.indices[span]] = rows.weights[span]
    return out


def test_user_scores_are_the_decayed_sum_of_their_newest_items_rows() -> None:
    rng = np.random.default_rng(3)
    n_items = 40
    rows = _random_rows(rng, n_items, 6)
    assert rows.problem(n_items) is None
    history = np.full((5, 30), -1, dtype=np.int64)
    history[0, :25] = rng.choice(n_items, 25, replace=False)  # beyond QUERY_ITEMS
    history[1, :3] = [4, 9, 4 + 1]
    history[3, :1] = [7]  # user 2 has no history, user 4 neither
    dense = _dense(rows, n_items)
    expected = np.zeros((5, n_items))
    for user, items in enumerate(history):
        for position, row in enumerate(items[:QUERY_ITEMS]):
            if row >= 0:
                expected[user] += QUERY_DECAY**position * dense[row]
    scores = rows.for_users(history)
    everything = np.broadcast_to(np.arange(n_items), (5, n_items))
    np.testing.assert_allclose(scores.lookup(everything), expected, rtol=1e-5)
    # Padding (-1) scores nothing.
    assert (scores.lookup(np.full((5, 3), -1)) == 0).all()
    top = scores.top(4)
    for user in range(5):
        best = [
            r for r in np.lexsort((np.arange(n_items), -expected[user])) if expected[user, r] > 0
        ]
        assert list(top[user][top[user] >= 0]) == best[:4]
    assert (top[2] == -1).all() and (top[4] == -1).all()


def test_invalid_rows_are_named() -> None:
    good = ItemTransitions(
        np.array([0, 1, 1], np.int32), np.array([1], np.int32), np.array([0.5], np.float32)
    )
    assert good.problem(2) is None
    assert "indptr" in (good.problem(3) or "")
    bad_index = ItemTransitions(good.indptr, np.array([2], np.int32), good.weights)
    assert "indices" in (bad_index.problem(2) or "")
    bad_weight = ItemTransitions(good.indptr, good.indices, np.array([np.nan], np.float32))
    assert "weights" in (bad_weight.problem(2) or "")
    backwards = ItemTransitions(np.array([0, 1, 0, 1], np.int32), good.indices, good.weights)
    assert "decreases" in (backwards.problem(3) or "")


def test_ties_at_the_cut_go_to_the_lower_rows() -> None:
    # Weights of 1, 2 or 3 and one history item per user: most cuts fall inside a tie.
    rng = np.random.default_rng(4)
    n_items = 400
    lengths = rng.integers(0, 150, n_items)
    indices = np.concatenate([rng.choice(n_items, size=k, replace=False) for k in lengths])
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    weights = rng.integers(1, 4, len(indices)).astype(np.float32)
    rows = ItemTransitions(indptr, indices.astype(np.int32), weights)
    history = rng.integers(0, n_items, (64, 1))
    top = rows.for_users(history).top(CANDIDATES)
    for user, (item,) in enumerate(history):
        span = slice(indptr[item], indptr[item + 1])
        leads = dict(zip(indices[span].tolist(), weights[span].tolist(), strict=True))
        expected = sorted(leads, key=lambda row: (-leads[row], row))[:CANDIDATES]
        assert top[user][top[user] >= 0].tolist() == expected
