from __future__ import annotations

import json

import pytest

from streamrec.contracts.errors import InvalidRulesError
from streamrec.contracts.rules import parse_rules


def test_a_full_rule_set_parses_into_filters_and_overlay() -> None:
    rules = parse_rules(
        json.dumps(
            {
                "version": "r7",
                "exclude_items": ["i1"],
                "exclude_categories": ["adult"],
                "item_boosts": {"i2": 1.5},
                "category_boosts": {"sports": -0.5},
                "max_per_category": 3,
            }
        )
    )
    assert rules.version == "r7"
    assert rules.filters.exclude_items == frozenset({"i1"})
    assert rules.filters.exclude_categories == frozenset({"adult"})
    assert rules.overlay.item_boosts == {"i2": 1.5}
    assert rules.overlay.category_boosts == {"sports": -0.5}
    assert rules.overlay.max_per_category == 3
    assert not rules.is_empty
    assert parse_rules(b'{"version": "empty"}').is_empty


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{nope", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"exclude_items": []}', "version"),
        (b'{"version": "r", "exclude_item": ["i1"]}', "unknown rule fields: exclude_item"),
        (b'{"version": "r", "exclude_items": "i1"}', "list of non-empty strings"),
        (b'{"version": "r", "item_boosts": {"i1": "high"}}', "must be a number"),
        (b'{"version": "r", "item_boosts": {"i1": true}}', "must be a number"),
        (b'{"version": "r", "max_per_category": 0}', "positive integer"),
    ],
)
def test_bad_rules_are_refused_with_what_to_fix(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRulesError, match=message):
        parse_rules(raw)
