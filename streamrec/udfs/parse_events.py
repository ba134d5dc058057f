"""The job's edge: decode and validate raw events; anything bad goes to the dead-letter side.

Never raises on input: every record becomes either an event row for the keyed scoring
operator or a dead-letter row (reason code + original bytes) on ``DEAD_LETTERS``. Records
with a null value (tombstones) carry no event and are skipped by the source; one that gets
here anyway is dead-lettered as an empty record.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import OutputTag, ProcessFunction, RuntimeContext

from streamrec.contracts.dead_letter import dead_letter_json
from streamrec.contracts.errors import EVENT_REASONS, InvalidEventError
from streamrec.contracts.event import MAX_PAST_AGE_MS, parse_event
from streamrec.state.user_state import EVENT_TYPE, event_to_row

DEAD_LETTER_TYPE = Types.ROW_NAMED(["reason", "value"], [Types.STRING(), Types.STRING()])
DEAD_LETTERS = OutputTag("dead-letters", DEAD_LETTER_TYPE)
# (user_id, event): what PyFlink's key_by would build with a Python key selector, one more
# Python call per event; the parser emits it directly (jobs.recommend keys on field 0).
KEYED_EVENT_TYPE = Types.ROW([Types.STRING(), EVENT_TYPE])
REASONS = EVENT_REASONS


@dataclass(frozen=True)
class DeadLetter:
    reason: str
    value: str
    """The dead-letter JSON (contracts.dead_letter)."""

    def to_row(self) -> Row:
        return Row(reason=self.reason, value=self.value)


def parse_or_dead_letter(
    value: Any, source_topic: str, now_ms: int, max_age_ms: int = MAX_PAST_AGE_MS
) -> Row | DeadLetter:
    """The event row for ``value``, or its dead letter; never raises.

    A bug anywhere below is dead-lettered as ``internal_error`` with the exception type,
    so one record can never put the job into a restart loop.
    """
    raw = b""
    try:
        raw = _as_bytes(value)
        return event_to_row(parse_event(raw, now_ms=now_ms, max_age_ms=max_age_ms))
    except InvalidEventError as ex:
        return _dead_letter(raw, ex.reason, str(ex), source_topic, now_ms)
    except Exception as ex:
        return _dead_letter(raw, "internal_error", _describe(ex), source_topic, now_ms)


class ParseEvents(ProcessFunction):
    def __init__(self, source_topic: str, max_age_ms: int = MAX_PAST_AGE_MS) -> None:
        self.source_topic = source_topic
        self.max_age_ms = max_age_ms

    def open(self, runtime_context: RuntimeContext) -> None:
        group = runtime_context.get_metrics_group()
        self.valid = group.counter("eventsValid")
        dlq = group.add_group("deadLetters")
        self.dead: dict[str, Any] = {reason: dlq.counter(reason) for reason in REASONS}

    def process_element(self, value: bytes, ctx: ProcessFunction.Context):
        now_ms = int(time.time() * 1000)
        out = parse_or_dead_letter(value, self.source_topic, now_ms, self.max_age_ms)
        if isinstance(out, DeadLetter):
            counter = self.dead.get(out.reason)
            if counter is not None:
                counter.inc()
            yield DEAD_LETTERS, out.to_row()
            return
        self.valid.inc()
        yield Row(out[1], out)


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""  # a tombstone that got past the source
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")  # keep bad text for the parser to name
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    # Not bytes(value): bytes(10**12) would try to allocate a terabyte of zeros.
    raise TypeError(f"record value is a {type(value).__name__}, not bytes")


def _dead_letter(raw: bytes, reason: str, detail: str, topic: str, now_ms: int) -> DeadLetter:
    try:
        return DeadLetter(reason, dead_letter_json(raw, reason, detail, topic, now_ms))
    except Exception as ex:  # last resort: a record that names the failure, without the bytes
        detail = f"dead letter for {reason} failed: {_describe(ex)}"
        fallback = {"reason": "internal_error", "detail": detail, "source_topic": topic}
        return DeadLetter("internal_error", json.dumps(fallback))


def _describe(ex: BaseException) -> str:
    """``Type: message`` of an exception, safe against a failing ``__str__``."""
    try:
        message = str(ex)[:500]
    except Exception:
        message = "<unprintable>"
    return f"{type(ex).__name__}: {message}"
