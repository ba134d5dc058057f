"""Fitting item transitions from training events (model_registry.transitions)."""

import numpy as np
import pytest

from streamrec.contracts.event import Event
from streamrec.model_registry.transitions import ALPHA, fit_transitions


def _events(rows: list[tuple[str, str, str]]) -> list[Event]:
    return [
        Event(event_id=f"e{n}", user_id=u, item_id=i, type=t, ts=1_000 + n)
        for n, (u, i, t) in enumerate(rows)
    ]


def _row(fitted, index: dict[str, int], item: str) -> dict[str, float]:
    r = index[item] - 1
    span = slice(fitted.indptr[r], fitted.indptr[r + 1])
    names = {v - 1: k for k, v in index.items()}
    return {
        names[j]: float(w) for j, w in zip(fitted.indices[span], fitted.weights[span], strict=True)
    }


def test_successors_within_the_window_counted_and_normalised() -> None:
    index = {"a": 1, "b": 2, "c": 3, "d": 4}
    events = _events([
        ("u1", "a", "view"), ("u2", "a", "view"), ("u1", "a", "click"),  # one visit to a
        ("u1", "b", "view"), ("u2", "b", "view"), ("u1", "c", "view"),
        ("u1", "x", "view"),  # outside the catalogue: skipped
        ("u1", "d", "impression"),  # not an engagement
    ])  # fmt: skip
    fitted = fit_transitions(events, index, window=2)
    assert fitted.problem(len(index)) is None
    # a -> b twice (u1, u2), a -> c once (u1, two positions on); 3 in all from a.
    assert _row(fitted, index, "a") == pytest.approx({"b": 2 / 3**ALPHA, "c": 1 / 3**ALPHA})
    assert _row(fitted, index, "b") == pytest.approx({"c": 1.0})
    assert _row(fitted, index, "c") == {} and _row(fitted, index, "d") == {}
    # A window of one position: a -> c no longer counts.
    assert set(_row(fit_transitions(events, index, window=1), index, "a")) == {"b"}


def test_each_row_keeps_its_best_neighbours() -> None:
    index = {f"i{n}": n + 1 for n in range(6)}
    rows = [("u0", "i0", "view"), ("u0", "i1", "view"), ("u1", "i0", "view"),
            ("u1", "i1", "view"), ("u2", "i0", "view"), ("u2", "i2", "view"),
            ("u3", "i0", "view"), ("u3", "i3", "view")]  # fmt: skip
    fitted = fit_transitions(_events(rows), index, window=1, neighbours=2)
    row = _row(fitted, index, "i0")
    assert list(row) == ["i1", "i2"]  # i1 twice; i2 and i3 once each, the lower row kept
    assert np.diff(fitted.indptr).max() <= 2


def test_counting_in_chunks_gives_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamrec.model_registry.transitions as transitions

    rng = np.random.default_rng(5)
    index = {f"i{n}": n + 1 for n in range(30)}
    rows = [(f"u{rng.integers(12)}", f"i{rng.integers(30)}", "view") for _ in range(400)]
    whole = fit_transitions(_events(rows), index)
    monkeypatch.setattr(transitions, "CHUNK_PAIRS", 7)
    chunked = fit_transitions(_events(rows), index)
    np.testing.assert_array_equal(whole.indptr, chunked.indptr)
    np.testing.assert_array_equal(whole.indices, chunked.indices)
    np.testing.assert_allclose(whole.weights, chunked.weights)
