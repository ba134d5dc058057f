from __future__ import annotations

import stat
from pathlib import Path

from streamrec.model_package.signing import key_id, load_private_key, load_public_key
from streamrec.stack.config import StackConfig
from streamrec.stack.keys import ensure_signing_keys, public_key_path, signing_key_path


def test_stack_keys_are_created_once_and_kept(tmp_path: Path) -> None:
    config = StackConfig(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    assert ensure_signing_keys(config)
    private, public = signing_key_path(config), public_key_path(config)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = key_id(load_private_key(private).public_key())
    assert key_id(load_public_key(public)) == first
    assert not ensure_signing_keys(config)  # idempotent: `stack up` twice keeps the key
    public.unlink()
    assert not ensure_signing_keys(config)  # a lost public key is rebuilt from the private
    assert key_id(load_public_key(public)) == first
