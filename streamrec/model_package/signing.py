"""Who published a model: Ed25519 signatures over the canonical model reference.

The sha256 in a reference proves the bytes are the ones it names; the signature proves
the reference came from a holder of the publisher's private key, so write access to the
``models`` topic alone cannot choose what the job loads. Keys are PEM files: the private
key PKCS#8 (file mode 0600), the public key SubjectPublicKeyInfo; the job gets the public
key as base64 of its 32 raw bytes (``public_key_base64``), which fits on a command line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from streamrec.model_package.errors import SignatureError, SigningKeyError
from streamrec.model_package.reference import ModelReference

# Key files are a few hundred bytes; refuse to read anything large by mistake.
_MAX_KEY_FILE_BYTES = 16 * 1024


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short stable name of a public key: the first 16 hex of the sha256 of its raw bytes."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def public_key_base64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(_raw(public_key)).decode()


def public_key_from_base64(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as ex:
        raise SigningKeyError(f"not a base64 Ed25519 public key: {ex}") from None


def write_key_pair(private_path: Path, public_path: Path) -> Ed25519PublicKey:
    """Create a new key pair; the private key file is created 0600 and never overwritten."""
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two concurrent `stack up`s cannot both write (and split) the key pair.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key()
    write_public_key(public, public_path)
    return public


def write_public_key(public_key: Ed25519PublicKey, path: Path) -> None:
    path.write_bytes(
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(_read_key_file(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as ex:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key: {ex}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key file, or a file holding the base64 raw key."""
    data = _read_key_file(path)
    if not data.lstrip().startswith(b"-----BEGIN"):
        return public_key_from_base64(data.decode("ascii", "replace"))
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as ex:
        raise SigningKeyError(f"{path} is not a PEM public key: {ex}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def sign(reference: ModelReference, private_key: Ed25519PrivateKey) -> ModelReference:
    """The reference with ``key_id`` set and signed over all its other fields."""
    keyed = reference.signed(key_id(private_key.public_key()), "")
    signature = private_key.sign(keyed.signed_payload())
    return keyed.signed(keyed.key_id, base64.b64encode(signature).decode())


def trusted_keys(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    return {key_id(k): k for k in keys}


def verify(reference: ModelReference, keys: Mapping[str, Ed25519PublicKey]) -> None:
    """Raise SignatureError unless a trusted key signed exactly this reference."""
    if not reference.signature:
        raise SignatureError(f"{reference.describe()} is unsigned")
    if not keys:
        raise SignatureError(
            f"{reference.describe()}: the job has no publisher public key to verify it with "
            "(--model-public-key)"
        )
    key = keys.get(reference.key_id)
    if key is None:
        raise SignatureError(
            f"{reference.describe()} is signed by key {reference.key_id or '(none)'}, "
            f"not a trusted one ({', '.join(sorted(keys))})"
        )
    try:
        signature = base64.b64decode(reference.signature, validate=True)
        key.verify(signature, reference.signed_payload())
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError(
            f"{reference.describe()}: the signature does not verify with key {reference.key_id}"
        ) from None


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _read_key_file(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as ex:
        raise SigningKeyError(f"cannot read key file {path}: {ex.strerror or ex}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"{path} is too large to be a key file")
    return data
