"""The model reference: what travels on the ``models`` topic and sits in broadcast state.

One small JSON object per model version names the package and where to fetch it; the
package bytes stay in a durable artifact store (MLflow's on our stack), so checkpoints do
not grow with the catalogue and a restored job fetches them again without a re-publish::

    {"format": "streamrec.model-reference/1", "model_name": "streamrec", "version": "3",
     "sha256": "<64 hex>", "size": 1040321, "uri": "http://127.0.0.1:5000/api/2.0/...",
     "published_ms": 1732300000000, "key_id": "<16 hex>", "signature": "<base64>"}

The signature (see ``signing``) covers every other field in canonical form
(``signed_payload``). Parsing is strict and bounded: anything else raises
InvalidReferenceError, never another exception.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from streamrec.model_package.errors import InvalidReferenceError

FORMAT = "streamrec.model-reference/1"
# A reference is a few hundred bytes; anything much larger is not one.
MAX_REFERENCE_BYTES = 8 * 1024
URI_SCHEMES = ("http://", "https://", "file:")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,199}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{86}==")  # an Ed25519 signature is 64 bytes
_MAX_URI = 2048
# JSON integers beyond this would lose precision in other readers of the topic.
_MAX_INT = 2**53


@dataclass(frozen=True)
class ModelReference:
    model_name: str
    version: str
    sha256: str
    """Of the package bytes."""
    size: int
    """Package bytes; the fetcher reads no more than this."""
    uri: str
    """``http(s)://`` or ``file:`` location of the package."""
    published_ms: int
    key_id: str = ""
    """Which publisher key signed it (first 16 hex of the public key's sha256)."""
    signature: str = ""
    """Base64 Ed25519 signature of ``signed_payload()``; empty when unsigned."""

    def signed_payload(self) -> bytes:
        """The canonical bytes the signature covers: every field but the signature."""
        fields = {k: v for k, v in asdict(self).items() if k != "signature"}
        return _canonical({"format": FORMAT, **fields})

    def to_bytes(self) -> bytes:
        return _canonical({"format": FORMAT, **asdict(self)})

    def signed(self, key_id: str, signature: str) -> ModelReference:
        return replace(self, key_id=key_id, signature=signature)

    def describe(self) -> str:
        return f"model {self.model_name} version {self.version} (sha256 {self.sha256[:12]})"


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def parse_reference(raw: bytes) -> ModelReference:
    """Parse and check a reference message; raise InvalidReferenceError naming the problem."""
    if not isinstance(raw, bytes | bytearray):
        raise InvalidReferenceError(f"a reference is bytes, got {type(raw).__name__}")
    if not raw:
        raise InvalidReferenceError("empty message (not a model reference)")
    if len(raw) > MAX_REFERENCE_BYTES:
        raise InvalidReferenceError(
            f"{len(raw)} bytes, a model reference is at most {MAX_REFERENCE_BYTES}"
        )
    try:
        # Bounded size keeps nesting shallow enough for the recursive parser.
        data = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as ex:
        raise InvalidReferenceError(f"not a JSON model reference: {ex}") from None
    if not isinstance(data, dict):
        raise InvalidReferenceError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise InvalidReferenceError(
            f"format is {str(data.get('format'))[:60]!r}, expected {FORMAT!r}"
        )
    expected = {"format", "model_name", "version", "sha256", "size", "uri", "published_ms",
                "key_id", "signature"}  # fmt: skip
    unknown, missing = set(data) - expected, expected - set(data)
    if unknown or missing:
        raise InvalidReferenceError(
            f"fields unknown: {sorted(unknown)[:5]}, missing: {sorted(missing)}"
        )
    return ModelReference(
        model_name=_text(data, "model_name", _NAME),
        version=_text(data, "version", _VERSION),
        sha256=_text(data, "sha256", _SHA256),
        size=_count(data, "size", minimum=1),
        uri=_uri(data),
        published_ms=_count(data, "published_ms", minimum=0),
        key_id=_text(data, "key_id", _KEY_ID, allow_empty=True),
        signature=_text(data, "signature", _SIGNATURE, allow_empty=True),
    )


def _text(data: dict[str, Any], name: str, pattern: re.Pattern[str], *,
          allow_empty: bool = False) -> str:  # fmt: skip
    value = data[name]
    if not isinstance(value, str):
        raise InvalidReferenceError(f"{name} must be a string, got {type(value).__name__}")
    if value == "" and allow_empty:
        return value
    if not pattern.fullmatch(value):
        raise InvalidReferenceError(f"{name} {value[:80]!r} is not of the form {pattern.pattern}")
    return value


def _count(data: dict[str, Any], name: str, *, minimum: int) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidReferenceError(f"{name} must be an integer, got {type(value).__name__}")
    if not minimum <= value <= _MAX_INT:
        raise InvalidReferenceError(f"{name} {value} is outside [{minimum}, 2**53]")
    return value


def _uri(data: dict[str, Any]) -> str:
    value = data["uri"]
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_URI:
        raise InvalidReferenceError(f"uri must be a string of 1 to {_MAX_URI} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidReferenceError("uri must be printable ASCII without spaces")
    if not value.startswith(URI_SCHEMES):
        raise InvalidReferenceError(f"uri {value[:80]!r}: scheme must be one of {URI_SCHEMES}")
    return value
