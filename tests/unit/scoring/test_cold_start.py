"""Users with no history are answered from the trending lists, category first."""

from __future__ import annotations

import hashlib
import json

from streamrec.contracts.event import Event
from streamrec.contracts.rules import ItemRules
from streamrec.contracts.scored_item import ScoredItem
from streamrec.contracts.trending import TrendingList, trending_json
from streamrec.model_registry.synthetic import GeneratedData
from streamrec.scoring.batch_answer import BatchRequest
from streamrec.scoring.cold_start import TrendingBoard, trending_answers
from streamrec.scoring.worker import WorkerSettings
from streamrec.scoring.worker_client import ScoringWorker
from streamrec.state.features import UserFeatures, empty, update

CATEGORY_OF = {"shoe1": "shoes", "shoe2": "shoes", "hat1": "hats", "hat2": "hats"}


def listing(scope: str, *items: tuple[str, float], end: int = 300_000) -> TrendingList:
    return TrendingList(scope, end - 300_000, end, tuple(ScoredItem(i, s) for i, s in items))


def board() -> TrendingBoard:
    b = TrendingBoard()
    b.put(listing("all", ("hat1", 9.0), ("shoe1", 5.0), ("hat2", 4.0), ("shoe2", 1.0)))
    b.put(listing("category:shoes", ("shoe1", 5.0), ("shoe2", 1.0)))
    return b


def first_event(user: str, item: str) -> tuple[Event, UserFeatures]:
    event = Event(f"e-{user}", user, item, "view", 1_000)
    return event, update(empty(), event, CATEGORY_OF)


def test_a_new_user_gets_its_items_category_then_all_without_the_item_it_saw() -> None:
    event, features = first_event("u1", "shoe2")
    answers = trending_answers([event], [features], board(), CATEGORY_OF, 3, 1)
    assert [i.item_id for i in answers[0]] == ["shoe1", "hat1", "hat2"]


def test_a_user_with_history_is_left_to_the_model() -> None:
    event, features = first_event("u1", "shoe2")
    second = Event("e2", "u1", "hat1", "click", 2_000)
    answers = trending_answers(
        [event, second], [features, update(features, second, CATEGORY_OF)], board(),
        CATEGORY_OF, 3, 1,
    )  # fmt: skip
    assert list(answers) == [0]


def test_rules_and_an_empty_board_leave_no_trending_answer() -> None:
    event, features = first_event("u1", "shoe2")
    rules = ItemRules(exclude_items=frozenset({"shoe1"}), exclude_categories=frozenset({"hats"}))
    assert trending_answers([event], [features], board(), CATEGORY_OF, 3, 1, rules) == {}
    assert trending_answers([event], [features], TrendingBoard(), CATEGORY_OF, 3, 1) == {}
    assert trending_answers([event], [features], board(), CATEGORY_OF, 3, 0) == {}


def test_an_older_window_does_not_replace_a_newer_one() -> None:
    b = TrendingBoard()
    assert b.put(listing("all", ("new", 1.0), end=600_000))
    assert not b.put(listing("all", ("old", 1.0), end=300_000))
    assert [i.item_id for i in b.items("all")] == ["new"]


def test_the_worker_answers_new_users_from_trending_and_names_the_strategy(
    package_bytes: bytes, small_data: GeneratedData
) -> None:
    worker = ScoringWorker(WorkerSettings(k=5, num_candidates=50, tf_threads=1))
    worker.start()
    try:
        served = worker.load_model(package_bytes, hashlib.sha256(package_bytes).hexdigest())
        item, category = next(iter(served.category_of.items()))
        others = [i for i, c in served.category_of.items() if c == category and i != item][:3]
        trending = listing(f"category:{category}", *((i, 10.0 - n) for n, i in enumerate(others)))
        worker.set_trending(trending.scope, trending_json(trending).encode())
        known = small_data.events[0]
        state = update(empty(), known, small_data.item_categories)
        state = update(state, known, small_data.item_categories)
        new_user = Event("new-1", "brand-new", item, "view", known.ts)
        request = BatchRequest(
            [new_user, known], [update(empty(), new_user, served.category_of), state]
        )
        answer = worker.score(request)
        worker.written()
        records = [json.loads(v) for v in answer.values]
        assert records[0]["strategy"] == "trending"
        assert [i["item_id"] for i in records[0]["items"]] == others
        assert records[1]["strategy"] == "model"
        assert answer.strategies == {"trending": 1, "model": 1}
        # A restarted worker gets the lists again.
        worker._restart()
        again = worker.score(request)
        worker.written()
        assert json.loads(again.values[0])["strategy"] == "trending"
    finally:
        worker.close()
