"""The dead-letter record on ``events.dlq`` (key = reason code): the original bytes, and why.

``original_base64`` is the record value, whatever its encoding; ``original`` is the same
text for human eyes when it decodes as UTF-8. ``reason`` is a stable code (see
contracts.errors.EVENT_REASONS); ``detail`` says what was expected and what came.

A dead letter must always fit through the DLQ producer, so both are bounded: at most
``MAX_DEAD_LETTER_ORIGINAL_BYTES`` of the original are kept (``truncated`` says whether
the rest was cut; ``original_bytes`` and ``original_sha256`` describe the whole record,
so it can still be found upstream), and ``detail`` is cut to ``MAX_DETAIL_CHARS``.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import json

from streamrec.contracts.limits import MAX_RECORD_BYTES

# The 64 KiB an event may have (contracts.event.MAX_EVENT_BYTES): every record that was
# refused for another reason is kept whole; only an oversized one is cut.
MAX_DEAD_LETTER_ORIGINAL_BYTES = 64 * 1024
# A detail names a field and a short excerpt of the bad value; 1 KiB is plenty.
MAX_DETAIL_CHARS = 1024
# Worst case of the JSON written below: the kept original twice (as escaped text, up to
# 6 chars per byte for control bytes, 393,216; as base64, 87,384) plus a detail of control
# chars (6,144) and the fixed fields: < 0.5 MiB, half of what the producer may send
# (contracts.limits.MAX_RECORD_BYTES, Kafka's default max.request.size of 1,048,576).
MAX_DEAD_LETTER_BYTES = MAX_RECORD_BYTES // 2


def dead_letter_json(raw: bytes, reason: str, detail: str, source_topic: str, now_ms: int) -> str:
    kept = raw[:MAX_DEAD_LETTER_ORIGINAL_BYTES]
    truncated = len(kept) < len(raw)
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 3] + "..."
    return json.dumps(
        {
            "reason": reason,
            "detail": detail,
            "source_topic": source_topic,
            "original": _text(kept, truncated),
            "original_base64": base64.b64encode(kept).decode("ascii"),
            "truncated": truncated,
            "original_bytes": len(raw),
            "original_sha256": hashlib.sha256(raw).hexdigest(),
            "dead_lettered_ts": now_ms,
        },
        separators=(",", ":"),
    )


def _text(kept: bytes, truncated: bool) -> str | None:
    """The kept bytes as text, or None when they are not UTF-8.

    A cut may split the last character; that partial character is dropped from the text
    (``original_base64`` still has every kept byte).
    """
    try:
        if truncated:
            return codecs.getincrementaldecoder("utf-8")().decode(kept, final=False)
        return kept.decode("utf-8")
    except UnicodeDecodeError:
        return None
