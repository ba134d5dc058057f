"""The Event contract: one user interaction on the ``events`` topic (key = user_id)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from streamrec.contracts.errors import InvalidEventError
from streamrec.contracts.json_guard import (
    BAD_CHARS,
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    JsonGuardError,
    check_text,
    decode_utf8,
    strict_loads,
)

EVENT_TYPES: tuple[str, ...] = ("view", "click", "add", "purchase", "request", "impression")
# Types that name no item: a recommendation request is about the user only.
ITEMLESS_TYPES: frozenset[str] = frozenset({"request"})
# 64 KiB: real events are < 1 KiB; anything bigger is abuse or a bug upstream.
MAX_EVENT_BYTES = 64 * 1024
# 5 min of clock drift: ts becomes the Cassandra write time, so a +23 h ts would freeze the row.
MAX_FUTURE_SKEW_MS = 5 * 60 * 1000
# Older than a year is a unit mix-up (seconds for ms) or a replay that needs its own path.
# The job's --max-event-age-days overrides it, e.g. to replay a historical dataset.
MAX_PAST_AGE_MS = 365 * 24 * 3600 * 1000
# 9999-12-31T23:59:59.999Z, checked even without a clock: ts * 1000 (Cassandra's
# microsecond write time) and date conversions stay inside a 64-bit long.
MAX_TS_MS = 253_402_300_799_999
# Ids are Kafka keys and Cassandra partition keys; real ones are < 64 chars.
MAX_ID_CHARS = 256
# Context is free-form (device, page, experiment); real ones have < 20 keys and < 1 KiB.
MAX_CONTEXT_KEYS = 64
# Values at any depth inside the context, so walking or copying it stays cheap.
MAX_CONTEXT_NODES = 1_000
# Compact-JSON size of the context; 16 KiB keeps it a minor part of a 64 KiB event.
MAX_CONTEXT_BYTES = 16 * 1024
_REQUIRED_STR = ("event_id", "user_id")
_ID_FIELDS = ("event_id", "user_id", "item_id")
_SHOW_CHARS = 64  # how much of a bad value a message repeats


@dataclass(frozen=True, slots=True)
class Event:
    """One interaction. Unknown JSON fields are ignored, never fatal."""

    event_id: str
    """Unique id of this event; outputs it triggers carry it for de-duplication."""
    user_id: str
    """The user; also the Kafka key and the keyed-state key."""
    item_id: str | None
    """The item acted on; ``None`` only for item-less types such as ``request``."""
    type: str
    """One of ``EVENT_TYPES``."""
    ts: int
    """Event time, epoch milliseconds."""
    context: dict[str, Any] = field(default_factory=dict)
    """Optional free-form context (device, page, ...), JSON-serializable."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "user_id": self.user_id,
            "item_id": self.item_id,
            "type": self.type,
            "ts": self.ts,
        }
        if self.context:
            out["context"] = dict(self.context)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(
        cls, data: Any, *, now_ms: int | None = None, max_age_ms: int = MAX_PAST_AGE_MS
    ) -> Event:
        """Validate a decoded JSON object; raise InvalidEventError with a reason code.

        ``now_ms`` enables the far-future and far-past checks (the job passes its
        processing time); ``max_age_ms`` bounds how old an event may be.
        """
        if not isinstance(data, dict):
            raise InvalidEventError("wrong_type", f"expected a JSON object, got {_tname(data)}")
        for name in (*_REQUIRED_STR, "type", "ts"):
            if data.get(name) is None:
                raise InvalidEventError("missing_field", f"field {name!r} is required")
        for name in (*_REQUIRED_STR, "type"):
            _check_string(name, data[name])
        etype = data["type"]
        if etype not in EVENT_TYPES:
            raise InvalidEventError(
                "unknown_type", f"type {_show(etype)} is not one of {', '.join(EVENT_TYPES)}"
            )
        ts = _check_ts(data["ts"], now_ms, max_age_ms)
        item_id = data.get("item_id")
        if isinstance(item_id, str) and not item_id:
            item_id = None  # an empty item id is treated as none
        if item_id is not None:
            _check_string("item_id", item_id)
        elif etype not in ITEMLESS_TYPES:
            raise InvalidEventError(
                "missing_field", f"field 'item_id' is required for type {etype!r}"
            )
        context = data.get("context")
        context = {} if context is None else _check_context(context)
        return cls(data["event_id"], data["user_id"], item_id, etype, ts, context)


def parse_event(
    raw: bytes | str, *, now_ms: int | None = None, max_age_ms: int = MAX_PAST_AGE_MS
) -> Event:
    """Decode and validate one raw record (the job's edge and the DLQ path call this).

    Raises only InvalidEventError, whatever ``raw`` holds.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview, str)):
        raise InvalidEventError("wrong_type", f"record is {_tname(raw)}, not bytes")
    size = len(raw)  # a str is at least as many UTF-8 bytes as it has chars
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError("oversized", f"{size} bytes, limit is {MAX_EVENT_BYTES}")
    try:
        data = strict_loads(decode_utf8(raw))
    except JsonGuardError as ex:
        raise InvalidEventError(ex.reason, str(ex)) from None
    return Event.from_dict(data, now_ms=now_ms, max_age_ms=max_age_ms)


def _check_string(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidEventError(
            "wrong_type", f"field {name!r}: expected string, got {_tname(value)}"
        )
    if not value:
        raise InvalidEventError("bad_value", f"field {name!r} is empty")
    if name in _ID_FIELDS and len(value) > MAX_ID_CHARS:
        raise InvalidEventError(
            "too_long", f"field {name!r} has {len(value)} chars, limit is {MAX_ID_CHARS}"
        )
    _check_text(name, value)


def _check_ts(ts: Any, now_ms: int | None, max_age_ms: int) -> int:
    # bool is an int subclass in Python; a boolean timestamp is a producer bug.
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise InvalidEventError(
            "wrong_type", f"field 'ts': expected integer epoch ms, got {_tname(ts)}"
        )
    if not INT64_MIN <= ts <= INT64_MAX:
        raise InvalidEventError("bad_number", "field 'ts' is beyond int64")
    if ts < 0:
        raise InvalidEventError("bad_value", f"field 'ts' is negative: {ts}")
    if ts > MAX_TS_MS:
        raise InvalidEventError("bad_value", f"field 'ts' {ts} is after year 9999")
    if now_ms is not None and ts > now_ms + MAX_FUTURE_SKEW_MS:
        raise InvalidEventError(
            "future_ts", f"ts {ts} is more than {MAX_FUTURE_SKEW_MS} ms after now ({now_ms})"
        )
    if now_ms is not None and ts < now_ms - max_age_ms:
        raise InvalidEventError(
            "past_ts", f"ts {ts} is more than {max_age_ms} ms before now ({now_ms})"
        )
    return int(ts)  # an int subclass becomes a plain int for the Flink row


def _check_context(context: Any) -> dict[str, Any]:
    """The context as a bounded, JSON-serialisable dict, or InvalidEventError."""
    if not isinstance(context, dict):
        raise InvalidEventError(
            "wrong_type", f"field 'context': expected object, got {_tname(context)}"
        )
    if len(context) > MAX_CONTEXT_KEYS:
        raise InvalidEventError(
            "too_long", f"context has {len(context)} keys, limit is {MAX_CONTEXT_KEYS}"
        )
    # Iterative walk: a dict built in Python may nest deeper than json.dumps can recurse.
    nodes = chars = 0
    stack: list[tuple[Any, int]] = [(context, 2)]  # the event object is level 1
    while stack:
        container, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidEventError("too_deep", f"context nests deeper than {MAX_JSON_DEPTH}")
        is_dict = isinstance(container, dict)
        for key in container:
            nodes += 1
            if nodes > MAX_CONTEXT_NODES:
                raise InvalidEventError(
                    "too_long", f"context holds more than {MAX_CONTEXT_NODES} values"
                )
            if is_dict:
                if not isinstance(key, str):
                    raise InvalidEventError("wrong_type", f"context key {_show(key)} is not text")
                _check_text("context", key)
                chars += len(key)
                value = container[key]
            else:
                value = key
            if isinstance(value, str):
                _check_text("context", value)
                chars += len(value)
            elif isinstance(value, (dict, list, tuple)):
                stack.append((value, depth + 1))
            elif isinstance(value, float):
                if not math.isfinite(value):
                    raise InvalidEventError("bad_number", f"context holds {value!r}")
            elif isinstance(value, int) and not isinstance(value, bool):
                if not INT64_MIN <= value <= INT64_MAX:
                    raise InvalidEventError("bad_number", "context holds an integer beyond int64")
            elif value is not None and not isinstance(value, bool):
                raise InvalidEventError("wrong_type", f"context holds a {_tname(value)}")
    # Serialised, a char takes at most 6 bytes (\u001f) and any other part of a value
    # at most 30 (quotes, separators, a 24-char float): only measure when it could matter.
    if 6 * chars + 30 * nodes + 2 > MAX_CONTEXT_BYTES:
        size = len(json.dumps(context, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_CONTEXT_BYTES:
            raise InvalidEventError(
                "too_long", f"context is {size} bytes as JSON, limit is {MAX_CONTEXT_BYTES}"
            )
    return context


def _check_text(name: str, value: str) -> None:
    if BAD_CHARS.search(value) is not None:  # the common, clean case costs one regex scan
        try:
            check_text(value)
        except JsonGuardError as ex:
            raise InvalidEventError(ex.reason, f"field {name!r}: {ex}") from None


def _show(value: Any) -> str:
    """A bad value for a message, cut short: messages end up in dead letters and logs."""
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not turn a dead letter into a crash
        text = f"<{_tname(value)}>"
    return text if len(text) <= _SHOW_CHARS else f"{text[:_SHOW_CHARS]}..."


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__
