"""Trending next to the model: a candidate source, and the way in for items it never saw."""

from __future__ import annotations

import pytest

from streamrec.contracts.event import Event
from streamrec.contracts.rules import ItemRules
from streamrec.contracts.scored_item import ScoredItem
from streamrec.contracts.trending import TrendingList
from streamrec.model_package.package import LoadedModel, load_package
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.scoring.batch_answer import BatchRequest, TrendingUse, answer_batch
from streamrec.scoring.cold_start import TrendingBoard
from streamrec.scoring.pipeline import ScoringConfig, gather
from streamrec.scoring.popularity import PopularityFallback
from streamrec.scoring.trending_mix import (
    fresh_items,
    insert_fresh,
    known_trending_rows,
    slot_positions,
)
from streamrec.state.features import UserFeatures, default_spec, empty, update


@pytest.fixture(scope="module")
def model(package_bytes: bytes) -> LoadedModel:
    return load_package(package_bytes, default_spec())


def board_with(scope: str, *items: tuple[str, float]) -> TrendingBoard:
    board = TrendingBoard()
    board.put(TrendingList(scope, 0, 300_000, tuple(ScoredItem(i, s) for i, s in items)))
    return board


def warm_user(data: GeneratedData, n: int = 5) -> tuple[Event, UserFeatures]:
    user = data.events[0].user_id
    state = empty()
    mine = [e for e in data.events if e.user_id == user][:n]
    for event in mine:
        state = update(state, event, data.item_categories)
    return mine[-1], state


def test_new_items_are_spread_below_the_top_and_scores_stay_ordered() -> None:
    assert slot_positions(20, 2) == [6, 12]
    assert all(0 < p < 5 for p in slot_positions(5, 4))
    model_list = [ScoredItem(f"m{n}", 10.0 - n) for n in range(20)]
    fresh = [ScoredItem("new1", 99.0), ScoredItem("new2", 50.0)]
    mixed = insert_fresh(model_list, fresh, 20, 2)
    assert len(mixed) == 20
    assert [mixed[6].item_id, mixed[12].item_id] == ["new1", "new2"]
    scores = [i.score for i in mixed]
    assert scores == sorted(scores, reverse=True)
    assert insert_fresh([], fresh, 20, 2)[0].item_id == "new1"


def test_only_unknown_unseen_allowed_items_come_in_category_first() -> None:
    board = board_with("all", ("known", 9.0), ("new-hat", 8.0), ("seen", 7.0), ("new-any", 1.0))
    board.put(TrendingList("category:shoes", 0, 300_000, (ScoredItem("new-shoe", 2.0),)))
    event = Event("e1", "u1", "shoe1", "view", 1_000)
    after = update(update(empty(), Event("e0", "u1", "seen", "view", 500), {}), event, {})
    known = {"known": 1, "shoe1": 2}
    picked = fresh_items(event, after, board, known, {"shoe1": "shoes"}, 2, None)
    assert [i.item_id for i in picked] == ["new-shoe", "new-hat"]
    rules = ItemRules(exclude_items=frozenset({"new-hat"}), exclude_categories=frozenset({"shoes"}))
    picked = fresh_items(event, after, board, known, {"shoe1": "shoes"}, 2, rules)
    assert [i.item_id for i in picked] == ["new-any"]


def test_known_trending_items_join_every_users_candidates(
    model: LoadedModel, small_data: GeneratedData
) -> None:
    _, state = warm_user(small_data)
    # The model's least popular item is rarely retrieved for this user: it must come in.
    tail = model.item_ids[-1]
    rows = known_trending_rows(board_with("all", (tail, 5.0), ("unknown", 4.0)),
                               model.vectorizer.item_index, 20)  # fmt: skip
    assert rows.tolist() == [len(model.item_ids) - 1]
    config = ScoringConfig(k=5, num_candidates=5)
    plain = gather(model, [state], config)
    with_trending = gather(model, [state], ScoringConfig(k=5, num_candidates=5, extra_rows=rows))
    assert rows[0] in with_trending.rows[0]
    assert set(plain.rows[0][plain.rows[0] >= 0]) <= set(with_trending.rows[0])


def test_the_model_answer_carries_new_trending_items_and_zero_slots_change_nothing(
    model: LoadedModel, small_data: GeneratedData
) -> None:
    event, state = warm_user(small_data)
    board = board_with("all", ("brand-new-item", 30.0), (model.item_ids[0], 20.0))
    request = BatchRequest([event], [state])

    def answer(slots: int, candidates: int) -> list[str]:
        use = TrendingUse(board, {}, 0, candidates, slots)
        result = answer_batch(request, model, None, PopularityFallback(), 10, 50, "brute", use)
        assert result.strategies == {"model": 1}
        return [i.item_id for i in result.recommendations[0].items]

    without = answer_batch(request, model, None, PopularityFallback(), 10, 50, "brute")
    plain = [i.item_id for i in without.recommendations[0].items]
    assert answer(0, 0) == plain
    mixed = answer(2, 0)
    assert mixed[slot_positions(10, 2)[0]] == "brand-new-item"
    assert [i for i in mixed if i != "brand-new-item"] == plain[:9]
