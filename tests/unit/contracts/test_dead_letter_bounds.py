from __future__ import annotations

import base64
import hashlib
import json

from streamrec.contracts.dead_letter import (
    MAX_DEAD_LETTER_BYTES,
    MAX_DEAD_LETTER_ORIGINAL_BYTES,
    MAX_DETAIL_CHARS,
    dead_letter_json,
)
from streamrec.contracts.event import MAX_EVENT_BYTES
from streamrec.contracts.limits import MAX_RECORD_BYTES


def test_a_record_within_the_event_limit_is_kept_whole() -> None:
    raw = b"x" * MAX_EVENT_BYTES
    record = json.loads(dead_letter_json(raw, "bad_json", "d", "events", 1))
    assert base64.b64decode(record["original_base64"]) == raw
    assert (record["truncated"], record["original_bytes"]) == (False, len(raw))
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_big_record_is_cut_and_says_so() -> None:
    raw = "é".encode() * (600 * 1024)  # 1.2 MB, a cut lands inside a character
    body = dead_letter_json(raw, "oversized", "d", "events", 1)
    record = json.loads(body)
    kept = base64.b64decode(record["original_base64"])
    assert kept == raw[:MAX_DEAD_LETTER_ORIGINAL_BYTES]
    assert record["truncated"] is True
    assert record["original_bytes"] == len(raw)
    assert record["original_sha256"] == hashlib.sha256(raw).hexdigest()
    assert record["original"] == "é" * (MAX_DEAD_LETTER_ORIGINAL_BYTES // 2)
    assert len(body.encode()) <= MAX_DEAD_LETTER_BYTES


def test_the_worst_case_fits_the_producer_with_room_to_spare() -> None:
    # Control bytes are valid UTF-8 and each escapes to six characters (\u0001).
    raw = b"\x01" * (10 * MAX_DEAD_LETTER_ORIGINAL_BYTES)
    detail = "\x01" * (10 * MAX_DETAIL_CHARS)
    body = dead_letter_json(raw, "internal_error", detail, "events", 2**63 - 1)
    assert len(body.encode("utf-8")) <= MAX_DEAD_LETTER_BYTES < MAX_RECORD_BYTES
    record = json.loads(body)
    assert len(record["detail"]) == MAX_DETAIL_CHARS
    assert record["detail"].endswith("...")


def test_a_detail_with_a_lone_surrogate_still_serialises() -> None:
    record = json.loads(dead_letter_json(b"{}", "bad_unicode", "got \ud800", "events", 1))
    assert record["detail"] == "got \ud800"
    assert record["original"] == "{}"
