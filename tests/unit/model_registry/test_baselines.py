from streamrec.contracts.event import Event
from streamrec.model_registry.baselines import cooccurrence_rankings, popularity_rankings
from streamrec.state.features import UserFeatures


def _views(rows: list[tuple[str, str]]) -> list[Event]:
    return [Event(str(n), u, i, "view", n) for n, (u, i) in enumerate(rows)]


def test_cooccurrence_counts_pairs_within_the_window_and_skips_recent() -> None:
    past = _views(
        [("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "a"), ("u2", "b"), ("u3", "a"),
         ("u3", "z"), ("u3", "z"), ("u3", "z")]
    )  # fmt: skip
    user = UserFeatures(recent_items=("a",))
    # b co-occurs with a twice, c and z once each (repeated z is one visit); z is more
    # popular than c, so it wins the tie.
    assert cooccurrence_rankings(past, [user], 3, window=2) == [["b", "z", "c"]]
    # With window 1, c (two positions after a) no longer co-occurs; it is only filler.
    assert cooccurrence_rankings(past, [user], 3, window=1)[0][:2] == ["b", "z"]


def test_cooccurrence_falls_back_to_popularity_for_unknown_history() -> None:
    past = _views([("u1", "a"), ("u1", "b"), ("u2", "b")])
    assert cooccurrence_rankings(past, [UserFeatures(recent_items=("q",))], 2) == [["b", "a"]]


def test_recent_popularity_counts_the_window_only() -> None:
    past = _views([("u", "a"), ("u", "a"), ("u", "a"), ("u", "b"), ("u", "b"), ("u", "c")])
    assert popularity_rankings(past, [UserFeatures()], 2) == [["a", "b"]]
    assert popularity_rankings(past, [UserFeatures()], 2, since_ts=3) == [["b", "c"]]


def test_the_whole_history_filter_applies_to_the_baselines_too() -> None:
    past = _views([("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "c"), ("u3", "a")])
    user = UserFeatures(recent_items=("c",), engaged_items=("c", "a"), engaged_counts=(1, 1))
    assert popularity_rankings(past, [user], 2) == [["a", "b"]]
    assert popularity_rankings(past, [user], 2, whole_history=True) == [["b"]]
    assert "a" in cooccurrence_rankings(past, [user], 3)[0]
    assert "a" not in cooccurrence_rankings(past, [user], 3, whole_history=True)[0]
