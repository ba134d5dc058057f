"""Errors raised while validating boundary messages."""

from __future__ import annotations

from streamrec.errors import StreamrecError


class InvalidEventError(StreamrecError):
    """An input record is not a valid Event.

    ``reason`` is a short stable code (``bad_json``, ``missing_field``, ``wrong_type``,
    ``unknown_type``, ``future_ts``, ``past_ts``, ``oversized``, ``bad_value``) that the dead-letter
    path writes next to the raw bytes; the message says what was expected and what came.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class InvalidRulesError(StreamrecError):
    """A rules message cannot be applied; the job keeps the previous rule set."""
