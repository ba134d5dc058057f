from __future__ import annotations

from streamrec.contracts.event import Event
from streamrec.scoring.popularity import PopularityFallback
from streamrec.state.features import UserFeatures


def test_most_engaged_items_first_without_the_users_own() -> None:
    fallback = PopularityFallback()
    for n, (item, etype) in enumerate(
        [("a", "view"), ("b", "purchase"), ("c", "click"), ("a", "view"), ("d", "impression")]
    ):
        fallback.observe(Event(f"e{n}", "u", item, etype, n))
    [plain, has_seen_b] = fallback.recommend(
        [UserFeatures(), UserFeatures(recent_items=("b",))], k=2
    )
    assert [i.item_id for i in plain] == ["b", "a"]  # purchase 5 > 2 views > click 2 (tie: id)
    assert [i.item_id for i in has_seen_b] == ["a", "c"]
    assert "d" not in [i.item_id for i in fallback.recommend([UserFeatures()], k=10)[0]]
