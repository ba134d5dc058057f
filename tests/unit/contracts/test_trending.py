"""The trending record: what the job's query writes, the scoring step accepts or refuses."""

from __future__ import annotations

import json

import pytest

from streamrec.contracts.scored_item import ScoredItem
from streamrec.contracts.trending import (
    MAX_TRENDING_ITEMS,
    InvalidTrendingError,
    parse_trending,
    trending_json,
)


def record(**overrides: object) -> bytes:
    doc = {
        "scope": "category:Shoes",
        "window_start": 1_700_000_000_000,
        "window_end": 1_700_000_300_000,
        "items": [
            {"item_id": "b", "score": 2.0, "events": 2},
            {"item_id": "a", "score": 8.0, "events": 1},
            {"item_id": "c", "score": 2.0, "events": 1},
        ],
        **overrides,
    }
    return json.dumps(doc).encode()


def test_items_are_ranked_by_score_then_id_whatever_order_sql_gave() -> None:
    trending = parse_trending(record())
    assert [i.item_id for i in trending.items] == ["a", "b", "c"]
    assert trending.items[0] == ScoredItem("a", 8.0)
    assert (trending.window_start, trending.window_end) == (1_700_000_000_000, 1_700_000_300_000)


def test_a_record_survives_its_own_json() -> None:
    trending = parse_trending(record())
    assert parse_trending(trending_json(trending)) == trending


def test_unicode_category_scopes_are_kept() -> None:
    assert parse_trending(record(scope="category:靴")).scope == "category:靴"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"scope": "all", "scope": "all"}', "not valid JSON"),
        (record(scope=""), "scope"),
        (record(scope=7), "scope"),
        (record(window_end=-1), "epoch milliseconds"),
        (record(window_end=True), "epoch milliseconds"),
        (record(items={}), "items"),
        (record(items=[{"item_id": "a"}] * (MAX_TRENDING_ITEMS + 1)), "items"),
        (record(items=[["a", 1]]), "object"),
        (record(items=[{"item_id": "", "score": 1}]), "item_id"),
        (record(items=[{"item_id": "a", "score": "1"}]), "finite number"),
        (
            b'{"scope":"all","window_start":0,"window_end":1,"items":[{"item_id":"a","score":NaN}]}',
            "not valid JSON",
        ),
        (b"[" * 10_000, "not valid JSON"),
        (b"x" * 300_000, "bytes"),
    ],
)
def test_bad_records_are_refused_with_a_reason(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidTrendingError, match=message):
        parse_trending(raw)
