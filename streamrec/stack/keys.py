"""The stack's model-signing key pair: created by ``stack up``, used by ``model publish``.

The private key signs model references (``streamrec model publish``); the public key goes
to the job (``--model-public-key``, passed by ``streamrec job deploy``). Both live in the
stack's data dir; the private key file is mode 0600 and is never overwritten, so a job
deployed earlier keeps trusting what later publishes sign.
"""

from __future__ import annotations

from pathlib import Path

from streamrec.stack.config import StackConfig

KEYS_DIR = "keys"


def signing_key_path(config: StackConfig) -> Path:
    return config.data_dir / KEYS_DIR / "model-signing.key.pem"


def public_key_path(config: StackConfig) -> Path:
    return config.data_dir / KEYS_DIR / "model-signing.pub.pem"


def ensure_signing_keys(config: StackConfig) -> bool:
    """Create the key pair unless the private key exists; True when it was created.

    A lost public key is written again from the private key.
    """
    from streamrec.model_package.signing import (
        load_private_key,
        write_key_pair,
        write_public_key,
    )

    private, public = signing_key_path(config), public_key_path(config)
    if not private.exists():
        try:
            write_key_pair(private, public)
            return True
        except FileExistsError:  # another `stack up` won the race; use its key
            pass
    if not public.exists():
        write_public_key(load_private_key(private).public_key(), public)
    return False
