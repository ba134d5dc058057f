"""The dead-letter record on ``events.dlq`` (key = reason code): the original bytes, and why.

``original_base64`` is the exact record value, whatever its encoding; ``original`` is the
same text for human eyes when it decodes as UTF-8. ``reason`` is a stable code (see
contracts.errors.InvalidEventError); ``detail`` says what was expected and what came.
"""

from __future__ import annotations

import base64
import json


def dead_letter_json(raw: bytes, reason: str, detail: str, source_topic: str, now_ms: int) -> str:
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return json.dumps(
        {
            "reason": reason,
            "detail": detail,
            "source_topic": source_topic,
            "original": text,
            "original_base64": base64.b64encode(raw).decode("ascii"),
            "dead_lettered_ts": now_ms,
        },
        separators=(",", ":"),
    )
