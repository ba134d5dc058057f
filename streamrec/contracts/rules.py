"""The Rules contract: business rules as data on the ``rules`` topic (key = rule set name).

One message is one complete rule set that replaces the previous one::

    {"version": "2026-11-22.1",
     "exclude_items": ["i42"], "exclude_categories": ["adult"],
     "item_boosts": {"i7": 1.5}, "category_boosts": {"sports": -0.5},
     "max_per_category": 3}

Every field but ``version`` is optional. Boosts are added to ranker logits (positive
promotes, negative demotes).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from streamrec.contracts.errors import InvalidRulesError
from streamrec.udfs.filters import ItemRules
from streamrec.udfs.ordering import ScoreOverlay

# A rule set names items and categories, not the catalogue; 4 MiB is generous.
MAX_RULES_BYTES = 4 * 1024 * 1024
_KNOWN_FIELDS = frozenset(
    {
        "version",
        "exclude_items",
        "exclude_categories",
        "item_boosts",
        "category_boosts",
        "max_per_category",
    }
)


@dataclass(frozen=True)
class RuleSet:
    """A parsed, validated rule set, split into the two scoring stages that use it."""

    version: str
    filters: ItemRules
    overlay: ScoreOverlay

    @property
    def is_empty(self) -> bool:
        return (
            not self.filters.exclude_items
            and not self.filters.exclude_categories
            and not self.overlay.item_boosts
            and not self.overlay.category_boosts
            and self.overlay.max_per_category is None
        )


def parse_rules(raw: bytes | str) -> RuleSet:
    """Decode and validate one rules message, or raise InvalidRulesError saying what is wrong."""
    if len(raw) > MAX_RULES_BYTES:
        raise InvalidRulesError(f"rules message is {len(raw)} bytes, limit {MAX_RULES_BYTES}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as ex:
        raise InvalidRulesError(f"rules are not valid JSON: {ex}") from ex
    if not isinstance(data, dict):
        raise InvalidRulesError("rules must be a JSON object")
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        # A typo such as "exclude_item" would silently do nothing; refuse it instead.
        raise InvalidRulesError(f"unknown rule fields: {', '.join(unknown)}")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise InvalidRulesError("field 'version' must be a non-empty string")
    max_per_category = data.get("max_per_category")
    if max_per_category is not None and (
        not isinstance(max_per_category, int)
        or isinstance(max_per_category, bool)
        or max_per_category < 1
    ):
        raise InvalidRulesError("field 'max_per_category' must be a positive integer or null")
    return RuleSet(
        version=version,
        filters=ItemRules(
            exclude_items=frozenset(_strings(data, "exclude_items")),
            exclude_categories=frozenset(_strings(data, "exclude_categories")),
        ),
        overlay=ScoreOverlay(
            item_boosts=_boosts(data, "item_boosts"),
            category_boosts=_boosts(data, "category_boosts"),
            max_per_category=max_per_category,
        ),
    )


def _strings(data: dict[str, Any], name: str) -> list[str]:
    values = data.get(name) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise InvalidRulesError(f"field {name!r} must be a list of non-empty strings")
    return values


def _boosts(data: dict[str, Any], name: str) -> dict[str, float]:
    values = data.get(name) or {}
    if not isinstance(values, dict):
        raise InvalidRulesError(f"field {name!r} must be an object of name -> number")
    out: dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRulesError(f"{name}[{key!r}] must be a number, got {value!r}")
        if not math.isfinite(value):
            raise InvalidRulesError(f"{name}[{key!r}] must be finite, got {value!r}")
        out[key] = float(value)
    return out
