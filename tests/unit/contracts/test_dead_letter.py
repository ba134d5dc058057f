from __future__ import annotations

import base64
import json

from streamrec.contracts.dead_letter import dead_letter_json


def test_dead_letter_keeps_the_exact_bytes_even_when_not_utf8() -> None:
    raw = b"\xff\xfe\x00binary"
    record = json.loads(dead_letter_json(raw, "bad_json", "not JSON", "events", 42))
    assert base64.b64decode(record["original_base64"]) == raw
    assert record["original"] is None
    assert (record["reason"], record["source_topic"], record["dead_lettered_ts"]) == (
        "bad_json",
        "events",
        42,
    )


def test_dead_letter_shows_text_when_it_decodes() -> None:
    record = json.loads(dead_letter_json(b'{"a": 1}', "missing_field", "x", "events", 1))
    assert record["original"] == '{"a": 1}'
