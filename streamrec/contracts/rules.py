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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.contracts.errors import InvalidRulesError
from streamrec.contracts.json_guard import JsonGuardError, check_text, decode_utf8, strict_loads
from streamrec.contracts.limits import MAX_RECORD_BYTES

# A rule set names items and categories, not the catalogue; it must fit one Kafka record
# (1 MiB, contracts.limits), so a bigger message can only come from a caller, not the topic.
MAX_RULES_BYTES = MAX_RECORD_BYTES
# Versions are labels in logs, metrics and every recommendation; real ones are < 32 chars.
MAX_VERSION_CHARS = 128
# An item or category name, like an event's item_id (contracts.event.MAX_ID_CHARS).
MAX_NAME_CHARS = 256
# Entries per list or boost map: a whole out-of-stock list fits, a catalogue dump does not.
MAX_RULE_ENTRIES = 100_000
# Boosts are added to float32 logits (|logit| < ~30): 1e6 already pins or buries an item,
# and bigger values only risk overflowing float32 (3.4e38) into inf or NaN scores.
MAX_ABS_BOOST = 1e6
# More per category than any top-K the job returns is the same as no limit.
MAX_PER_CATEGORY_LIMIT = 10_000
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


# A rule predicate gets the candidate rows [B, C] (-1 = none) and returns keep-mask [B, C].
CandidatePredicate = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ItemRules:
    """Filter rules as data (the ``rules`` topic carries them)."""

    exclude_items: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    predicates: tuple[CandidatePredicate, ...] = field(default=())
    """Extra hooks, applied in order; each returns True for candidates to keep."""


@dataclass(frozen=True)
class ScoreOverlay:
    """Additive adjustments in ranker-logit space (positive boosts, negative downscores)."""

    item_boosts: dict[str, float] = field(default_factory=dict)
    category_boosts: dict[str, float] = field(default_factory=dict)
    max_per_category: int | None = None
    """Diversity: at most this many results from one category (None = no limit)."""


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
    """Decode and validate one rules message, or raise InvalidRulesError saying what is wrong.

    Raises nothing else, whatever ``raw`` holds (a tombstone, ``None``, is refused too).
    """
    if not isinstance(raw, (bytes, bytearray, memoryview, str)):
        raise InvalidRulesError(f"a rules message is bytes, got {type(raw).__name__}", "wrong_type")
    if len(raw) > MAX_RULES_BYTES:
        raise InvalidRulesError(
            f"rules message is {len(raw)} bytes, limit {MAX_RULES_BYTES}", "oversized"
        )
    try:
        data = strict_loads(decode_utf8(raw))
    except JsonGuardError as ex:
        raise InvalidRulesError(f"rules are not valid strict JSON: {ex}", ex.reason) from None
    if not isinstance(data, dict):
        raise InvalidRulesError("rules must be a JSON object", "wrong_type")
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        # A typo such as "exclude_item" would silently do nothing; refuse it instead.
        names = ", ".join(name[:64] for name in unknown[:10])  # bounded: the key is input
        raise InvalidRulesError(f"unknown rule fields: {names}", "unknown_field")
    version = data.get("version")
    if version is None:
        raise InvalidRulesError("field 'version' must be a non-empty string", "missing_field")
    if not isinstance(version, str) or not version:
        raise InvalidRulesError("field 'version' must be a non-empty string", "wrong_type")
    if len(version) > MAX_VERSION_CHARS:
        raise InvalidRulesError(
            f"field 'version' is longer than {MAX_VERSION_CHARS} chars", "too_long"
        )
    max_per_category = data.get("max_per_category")
    if max_per_category is not None and (
        not isinstance(max_per_category, int)
        or isinstance(max_per_category, bool)
        or not 1 <= max_per_category <= MAX_PER_CATEGORY_LIMIT
    ):
        raise InvalidRulesError(
            f"field 'max_per_category' must be a positive integer up to {MAX_PER_CATEGORY_LIMIT}"
            " or null",
            "bad_value",
        )
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
    values = data.get(name)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise InvalidRulesError(f"field {name!r} must be a list of non-empty strings", "wrong_type")
    _check_count(name, len(values))
    for value in values:
        _check_name(name, value)
    return values


def _boosts(data: dict[str, Any], name: str) -> dict[str, float]:
    values = data.get(name)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidRulesError(f"field {name!r} must be an object of name -> number", "wrong_type")
    _check_count(name, len(values))
    out: dict[str, float] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise InvalidRulesError(f"{name} keys must be non-empty strings", "bad_value")
        _check_name(name, key)
        where = f"{name}[{key[:64]!r}]"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRulesError(
                f"{where} must be a number, got {type(value).__name__}", "wrong_type"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidRulesError(f"{where} must be finite, got {value!r}", "bad_number")
        if not -MAX_ABS_BOOST <= value <= MAX_ABS_BOOST:  # exact for ints too: no float()
            raise InvalidRulesError(f"{where} must be within +-{MAX_ABS_BOOST:g}", "bad_value")
        out[key] = float(value)
    return out


def _check_count(name: str, count: int) -> None:
    if count > MAX_RULE_ENTRIES:
        raise InvalidRulesError(
            f"field {name!r} has {count} entries, limit {MAX_RULE_ENTRIES}", "too_long"
        )


def _check_name(name: str, value: str) -> None:
    if len(value) > MAX_NAME_CHARS:
        raise InvalidRulesError(
            f"field {name!r}: a name is longer than {MAX_NAME_CHARS} chars", "too_long"
        )
    try:
        check_text(value)
    except JsonGuardError as ex:
        raise InvalidRulesError(f"field {name!r}: {ex}", ex.reason) from None
