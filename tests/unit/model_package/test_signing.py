from __future__ import annotations

import base64
import dataclasses
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streamrec.model_package.errors import SignatureError, SigningKeyError
from streamrec.model_package.reference import ModelReference, parse_reference
from streamrec.model_package.signing import (
    key_id,
    load_private_key,
    load_public_key,
    public_key_base64,
    public_key_from_base64,
    sign,
    trusted_keys,
    verify,
    write_key_pair,
)

UNSIGNED = ModelReference(
    model_name="m", version="1", sha256="cd" * 32, size=10, uri="file:///tmp/m.srpkg",
    published_ms=5,
)  # fmt: skip


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_a_signed_reference_verifies_after_a_round_trip(key: Ed25519PrivateKey) -> None:
    signed = sign(UNSIGNED, key)
    assert signed.key_id == key_id(key.public_key())
    verify(parse_reference(signed.to_bytes()), trusted_keys([key.public_key()]))


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "ee" * 32},
        {"size": 11},
        {"uri": "file:///tmp/other.srpkg"},
        {"version": "2"},
        {"model_name": "n"},
        {"published_ms": 6},
    ],
)
def test_any_tampered_field_fails(key: Ed25519PrivateKey, change: dict) -> None:
    tampered = dataclasses.replace(sign(UNSIGNED, key), **change)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(tampered, trusted_keys([key.public_key()]))


def test_wrong_key_unsigned_garbage_and_no_keys(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    keys = trusted_keys([key.public_key()])
    with pytest.raises(SignatureError, match="not a trusted one"):
        verify(sign(UNSIGNED, other), keys)
    # Another key claiming our key id still fails.
    forged = sign(UNSIGNED, other).signed(key_id(key.public_key()), sign(UNSIGNED, other).signature)
    with pytest.raises(SignatureError, match="does not verify"):
        verify(forged, keys)
    with pytest.raises(SignatureError, match="unsigned"):
        verify(UNSIGNED, keys)
    garbage = sign(UNSIGNED, key).signed(key_id(key.public_key()), "A" * 86 + "==")
    with pytest.raises(SignatureError, match="does not verify"):
        verify(garbage, keys)
    with pytest.raises(SignatureError, match="no publisher public key"):
        verify(sign(UNSIGNED, key), {})


def test_key_files(tmp_path) -> None:
    private, public = tmp_path / "k" / "key.pem", tmp_path / "k" / "pub.pem"
    written = write_key_pair(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert key_id(load_private_key(private).public_key()) == key_id(written)
    assert key_id(load_public_key(public)) == key_id(written)
    with pytest.raises(FileExistsError):
        write_key_pair(private, public)  # never overwritten
    raw = tmp_path / "raw.b64"
    raw.write_text(public_key_base64(written) + "\n")
    assert key_id(load_public_key(raw)) == key_id(written)
    assert key_id(public_key_from_base64(public_key_base64(written))) == key_id(written)


def test_bad_key_files_say_so(tmp_path) -> None:
    with pytest.raises(SigningKeyError, match="cannot read"):
        load_private_key(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError):
        load_private_key(junk)
    with pytest.raises(SigningKeyError):
        load_public_key(junk)
    with pytest.raises(SigningKeyError, match="base64"):
        public_key_from_base64(base64.b64encode(b"short").decode())
