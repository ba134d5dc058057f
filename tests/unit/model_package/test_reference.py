from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.model_package.errors import InvalidReferenceError
from streamrec.model_package.reference import (
    FORMAT,
    MAX_REFERENCE_BYTES,
    ModelReference,
    parse_reference,
)

SIGNATURE = "A" * 86 + "=="
REFERENCE = ModelReference(
    model_name="streamrec", version="3", sha256="ab" * 32, size=1234,
    uri="http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/m.srpkg",
    published_ms=1_700_000_000_000, key_id="0123456789abcdef", signature=SIGNATURE,
)  # fmt: skip


def fields(**changes: object) -> bytes:
    data = json.loads(REFERENCE.to_bytes())
    data.update(changes)
    return json.dumps(data).encode()


def test_round_trip_and_canonical_form() -> None:
    assert parse_reference(REFERENCE.to_bytes()) == REFERENCE
    payload = json.loads(REFERENCE.signed_payload())
    assert "signature" not in payload and payload["format"] == FORMAT
    # Key order and spacing do not change what is signed.
    shuffled = json.dumps(dict(reversed(json.loads(REFERENCE.to_bytes()).items())), indent=2)
    assert parse_reference(shuffled.encode()).signed_payload() == REFERENCE.signed_payload()


def test_unsigned_reference_parses_with_empty_signature() -> None:
    assert parse_reference(fields(signature="", key_id="")).signature == ""


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not a JSON"),
        (b"[1, 2]", "JSON object"),
        (b"SRPC\x00\x00\x00\x10{}", "not a JSON"),  # a chunk of the old inline format
        (b"{" * 5000, "not a JSON"),
        (b" " * (MAX_REFERENCE_BYTES + 1), "at most"),
        (fields(format="streamrec.model-reference/2"), "format"),
        (fields(extra=1), "unknown"),
        (fields(sha256=""), "sha256"),
        (fields(sha256="AB" * 32), "sha256"),
        (fields(size=0), "size"),
        (fields(size=True), "integer"),
        (fields(size=10**400), "size"),
        (fields(size=1.5), "integer"),
        (fields(uri="s3://bucket/x"), "scheme"),
        (fields(uri="file:/x y"), "spaces"),
        (fields(uri=None), "uri"),
        (fields(model_name="../etc"), "model_name"),
        (fields(version="1\n"), "version"),
        (fields(signature="not base64!"), "signature"),
        (fields(key_id=7), "string"),
    ],
)
def test_malformed_references_are_refused_with_a_reason(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidReferenceError, match=problem):
        parse_reference(raw)


def test_missing_field_is_named() -> None:
    data = json.loads(REFERENCE.to_bytes())
    del data["size"]
    with pytest.raises(InvalidReferenceError, match="missing: \\['size'\\]"):
        parse_reference(json.dumps(data).encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_raise_only_the_modules_error(raw: bytes) -> None:
    with contextlib.suppress(InvalidReferenceError):
        parse_reference(raw)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(json.loads(REFERENCE.to_bytes()))), json_values)
def test_any_field_value_raises_only_the_modules_error(name: str, value: object) -> None:
    with contextlib.suppress(InvalidReferenceError):
        parse_reference(fields(**{name: value}))
