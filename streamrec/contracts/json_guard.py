"""Strict, bounded JSON decoding for records from topics anyone may write to.

Python's ``json`` accepts things other systems do not (NaN, Infinity, duplicate keys,
lone surrogates from ``\\ud800`` escapes) and recurses once per nesting level, so a
40 KB ``[[[...]]]`` raises RecursionError. ``strict_loads`` refuses all of these with a
``JsonGuardError`` whose ``reason`` is a stable code; each contract maps it to its own
error type.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Real events nest 2-3 levels and rule sets 2; 32 leaves room and stays far below the
# interpreter's recursion limit (1,000) that json.loads and json.dumps run into.
MAX_JSON_DEPTH = 32
# Java long, Cassandra bigint and Flink LONG are 64-bit; a bigger integer cannot travel on.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Digits (with sign) an int64 can have; longer literals are refused before int() parses them.
_MAX_INT_CHARS = 20

# A whole JSON string (escapes skipped, an unterminated one runs to the end) or one bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
# NUL is cut off by C-string consumers; lone surrogates cannot be encoded as UTF-8 at all.
BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


class JsonGuardError(Exception):
    """A record is not strict, bounded JSON; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_utf8(raw: bytes | bytearray | memoryview | str) -> str:
    """The record as text: strict UTF-8 (reason ``bad_unicode`` otherwise)."""
    if isinstance(raw, str):
        bad = _SURROGATES.search(raw)
        if bad is not None:  # a str record came from Python, not from bytes on the wire
            raise JsonGuardError("bad_unicode", f"lone surrogate at offset {bad.start()}")
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as ex:
        message = f"not valid UTF-8: {ex.reason} at byte {ex.start}"
        raise JsonGuardError("bad_unicode", message) from None


def exceeds_depth(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than ``limit``; linear, no recursion."""
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than the number of openers: the common case
    depth = 0
    for token in _TOKENS.finditer(text):
        char = text[token.start()]
        if char == '"':
            continue
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif depth > 0:
            depth -= 1
    return False


def strict_loads(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode JSON text refusing what ``json`` would let through; see the module docstring.

    Reasons: ``too_deep``, ``bad_json``, ``bad_number`` (NaN, +-Infinity, a float that
    overflows, an integer outside int64), ``duplicate_key``, ``bad_unicode`` (a lone
    surrogate or NUL inside a string or key).
    """
    if exceeds_depth(text, max_depth):
        raise JsonGuardError("too_deep", f"JSON nests deeper than {max_depth} levels")
    try:
        data = _DECODER.decode(text)
    except JsonGuardError:
        raise
    except (ValueError, RecursionError) as ex:  # RecursionError: unreachable after the scan
        raise JsonGuardError("bad_json", f"not valid JSON: {ex}") from None
    if "\\u" in text:  # raw NUL and surrogates cannot reach a string but through an escape
        check_strings(data)
    return data


def check_strings(data: Any) -> None:
    """Refuse lone surrogates and NUL in any key or string value (iteratively)."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            check_text(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    check_text(key)
                stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)


def check_text(value: str) -> None:
    bad = BAD_CHARS.search(value)
    if bad is not None:
        what = "NUL" if bad.group() == "\x00" else f"lone surrogate U+{ord(bad.group()):04X}"
        raise JsonGuardError("bad_unicode", f"string holds {what}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        # Parsers disagree on which duplicate wins; a validator and a consumer could see
        # different records, so refuse the ambiguity.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonGuardError("duplicate_key", f"key {key[:64]!r} appears more than once")
            seen.add(key)
    return out


def _int64(literal: str) -> int:
    if len(literal) > _MAX_INT_CHARS:
        raise JsonGuardError("bad_number", f"integer with {len(literal)} digits is beyond int64")
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise JsonGuardError("bad_number", f"integer {literal} is beyond int64")
    return value


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise JsonGuardError("bad_number", f"number {literal[:32]} overflows a double")
    return value


def _no_constant(name: str) -> Any:
    raise JsonGuardError("bad_number", f"{name} is not a JSON number")


# Built once: json.loads with hooks builds a new decoder per call (a third of the cost).
_DECODER = json.JSONDecoder(
    object_pairs_hook=_unique_keys,
    parse_int=_int64,
    parse_float=_finite_float,
    parse_constant=_no_constant,
)


def load_object(raw: bytes | str, max_bytes: int, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object of at most ``max_bytes``, decoded strictly; the message of a
    ``JsonGuardError`` starts with ``what`` (reasons: ``oversized``, ``wrong_type`` and
    those of ``decode_utf8`` and ``strict_loads``)."""
    if len(raw) > max_bytes:
        raise JsonGuardError("oversized", f"{what} of {len(raw)} bytes > {max_bytes}")
    try:
        doc = strict_loads(decode_utf8(raw))
    except JsonGuardError as ex:
        raise JsonGuardError(ex.reason, f"{what} is not valid JSON: {ex}") from None
    if not isinstance(doc, dict):
        raise JsonGuardError("wrong_type", f"{what} must be a JSON object")
    return doc
