"""Errors raised while validating boundary messages."""

from __future__ import annotations

from streamrec.errors import StreamrecError


class InvalidEventError(StreamrecError):
    """An input record is not a valid Event.

    ``reason`` is a short stable code (one of ``EVENT_REASONS``) that the dead-letter path
    writes next to the raw bytes; the message says what was expected and what came.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class InvalidRulesError(StreamrecError):
    """A rules message cannot be applied; the job keeps the previous rule set.

    ``reason`` is a short stable code (one of ``RULES_REASONS``) for metrics and logs.
    """

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


# Every reason code a dead letter on events.dlq can carry; metrics and alerts key on them.
EVENT_REASONS: tuple[str, ...] = (
    "bad_json",  # not JSON at all: syntax, empty, truncated, a BOM
    "missing_field",
    "wrong_type",  # a field (or the whole record) of the wrong JSON type
    "unknown_type",  # ``type`` is not one of EVENT_TYPES
    "future_ts",  # ts further ahead of the processing clock than MAX_FUTURE_SKEW_MS
    "past_ts",  # ts older than the allowed age
    "oversized",  # the record is bigger than MAX_EVENT_BYTES
    "bad_value",  # right type, impossible value: empty id, negative ts, ts after year 9999
    "too_deep",  # JSON nesting deeper than MAX_JSON_DEPTH
    "bad_unicode",  # not UTF-8, a lone surrogate, or NUL in a string
    "bad_number",  # NaN, Infinity, a float that overflows, an integer beyond int64
    "duplicate_key",  # one JSON object names a key twice
    "too_long",  # an id or the context beyond its bound
    "internal_error",  # a bug in the parser; ``detail`` names the exception type
)

# Why a rules message was refused. The JSON-level codes are the events' (json_guard).
RULES_REASONS: tuple[str, ...] = (
    "oversized",  # bigger than MAX_RULES_BYTES
    "bad_json",
    "too_deep",
    "bad_unicode",
    "bad_number",
    "duplicate_key",
    "wrong_type",  # not an object, or a field of the wrong type
    "unknown_field",  # a typo would silently do nothing
    "missing_field",  # no version
    "too_long",  # a version, name or list beyond its bound
    "bad_value",  # a boost or max_per_category out of range, an empty name
    "invalid",  # the default when no code was given
)
