"""How the training data decides the scoring use, and the blend fitted on an inner split."""

from __future__ import annotations

from streamrec.contracts.event import Event
from streamrec.model_registry.blend import REPEAT_RATE_MIN, repeat_rate, scoring_use


def _events(rows: list[tuple[str, str, str]]) -> list[Event]:
    return [Event(str(n), u, i, t, n) for n, (u, i, t) in enumerate(rows)]


def test_repeat_rate_counts_engagements_with_an_item_the_user_had_before() -> None:
    events = _events(
        [("u1", "a", "view"), ("u1", "a", "purchase"), ("u2", "a", "view"),
         ("u1", "b", "impression"), ("u1", "b", "view")]
    )  # fmt: skip
    assert repeat_rate(events) == 1 / 4  # the impression is not an engagement
    assert repeat_rate([]) == 0.0


def test_a_consume_once_log_filters_the_whole_history_and_a_repeat_log_reengages() -> None:
    ratings = _events([(f"u{n % 7}", f"m{n}", "view") for n in range(300)])
    use = scoring_use(repeat_rate(ratings))
    assert (use.seen_filter, use.reengage) == ("engaged", False)
    assert [t for t, _ in use.blend] == ["retrieval", "recent_popularity"]
    shop = _events([(f"u{n % 7}", f"i{n % 30}", "view") for n in range(300)])
    assert repeat_rate(shop) > REPEAT_RATE_MIN
    use = scoring_use(repeat_rate(shop))
    assert (use.seen_filter, use.reengage) == ("recent", True)
    assert {"engaged", "engaged_rank", "engaged_count"} <= {t for t, _ in use.blend}
