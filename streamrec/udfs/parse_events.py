"""The job's edge: decode and validate raw events; anything bad goes to the dead-letter side.

Never raises on input: every record becomes either an event row for the keyed scoring
operator or a dead-letter row (reason code + original bytes) on ``DEAD_LETTERS``. Records
with a null value (tombstones) carry no event and are skipped by the source.
"""

from __future__ import annotations

import time
from typing import Any

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import OutputTag, ProcessFunction, RuntimeContext

from streamrec.contracts.dead_letter import dead_letter_json
from streamrec.contracts.errors import InvalidEventError
from streamrec.contracts.event import MAX_PAST_AGE_MS, parse_event
from streamrec.state.user_state import event_to_row

DEAD_LETTER_TYPE = Types.ROW_NAMED(["reason", "value"], [Types.STRING(), Types.STRING()])
DEAD_LETTERS = OutputTag("dead-letters", DEAD_LETTER_TYPE)
REASONS = (
    "bad_json",
    "missing_field",
    "wrong_type",
    "unknown_type",
    "future_ts",
    "past_ts",
    "oversized",
    "bad_value",
)


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
        raw = bytes(value)
        try:
            event = parse_event(raw, now_ms=now_ms, max_age_ms=self.max_age_ms)
        except InvalidEventError as ex:
            yield DEAD_LETTERS, self._dead(raw, ex.reason, str(ex), now_ms)
            return
        self.valid.inc()
        yield event_to_row(event)

    def _dead(self, raw: bytes, reason: str, detail: str, now_ms: int) -> Row:
        counter = self.dead.get(reason)
        if counter is not None:
            counter.inc()
        body = dead_letter_json(raw, reason, detail, self.source_topic, now_ms)
        return Row(reason=reason, value=body)
