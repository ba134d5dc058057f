"""The Event contract: one user interaction on the ``events`` topic (key = user_id)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from streamrec.contracts.errors import InvalidEventError

EVENT_TYPES: tuple[str, ...] = ("view", "click", "add", "purchase", "request", "impression")
# Types that name no item: a recommendation request is about the user only.
ITEMLESS_TYPES: frozenset[str] = frozenset({"request"})
# 64 KiB: real events are < 1 KiB; anything bigger is abuse or a bug upstream.
MAX_EVENT_BYTES = 64 * 1024
# Clocks drift; an event more than a day ahead of the processing clock is rejected.
MAX_FUTURE_SKEW_MS = 24 * 3600 * 1000
# Older than a year is a unit mix-up (seconds for ms) or a replay that needs its own path.
# The job's --max-event-age-days overrides it, e.g. to replay a historical dataset.
MAX_PAST_AGE_MS = 365 * 24 * 3600 * 1000
_REQUIRED_STR = ("event_id", "user_id")


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
            if name not in data or data[name] is None:
                raise InvalidEventError("missing_field", f"field {name!r} is required")
        for name in (*_REQUIRED_STR, "type"):
            if not isinstance(data[name], str):
                raise InvalidEventError(
                    "wrong_type", f"field {name!r}: expected string, got {_tname(data[name])}"
                )
            if not data[name]:
                raise InvalidEventError("bad_value", f"field {name!r} is empty")
        etype = data["type"]
        if etype not in EVENT_TYPES:
            raise InvalidEventError(
                "unknown_type", f"type {etype!r} is not one of {', '.join(EVENT_TYPES)}"
            )
        ts = data["ts"]
        # bool is an int subclass in Python; a boolean timestamp is a producer bug.
        if not isinstance(ts, int) or isinstance(ts, bool):
            raise InvalidEventError(
                "wrong_type", f"field 'ts': expected integer epoch ms, got {_tname(ts)}"
            )
        if ts < 0:
            raise InvalidEventError("bad_value", f"field 'ts' is negative: {ts}")
        if now_ms is not None and ts > now_ms + MAX_FUTURE_SKEW_MS:
            raise InvalidEventError(
                "future_ts", f"ts {ts} is more than {MAX_FUTURE_SKEW_MS} ms after now ({now_ms})"
            )
        if now_ms is not None and ts < now_ms - max_age_ms:
            raise InvalidEventError(
                "past_ts", f"ts {ts} is more than {max_age_ms} ms before now ({now_ms})"
            )
        item_id = data.get("item_id")
        if etype not in ITEMLESS_TYPES and (item_id is None or item_id == ""):
            raise InvalidEventError(
                "missing_field", f"field 'item_id' is required for type {etype!r}"
            )
        if item_id is not None and not isinstance(item_id, str):
            raise InvalidEventError(
                "wrong_type", f"field 'item_id': expected string, got {_tname(item_id)}"
            )
        context = data.get("context") or {}
        if not isinstance(context, dict):
            raise InvalidEventError(
                "wrong_type", f"field 'context': expected object, got {_tname(context)}"
            )
        return cls(data["event_id"], data["user_id"], item_id or None, etype, ts, context)


def parse_event(
    raw: bytes | str, *, now_ms: int | None = None, max_age_ms: int = MAX_PAST_AGE_MS
) -> Event:
    """Decode and validate one raw record (the job's edge and the DLQ path call this)."""
    size = len(raw)
    if size > MAX_EVENT_BYTES:
        raise InvalidEventError("oversized", f"{size} bytes, limit is {MAX_EVENT_BYTES}")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as ex:
        raise InvalidEventError("bad_json", f"not valid JSON: {ex}") from ex
    return Event.from_dict(data, now_ms=now_ms, max_age_ms=max_age_ms)


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__
