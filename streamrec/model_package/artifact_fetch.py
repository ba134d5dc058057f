"""Fetch a package a model reference names, bounded, verified, cached by sha256.

Runs inside the TaskManager, so it uses only the standard library (no mlflow import):
``http(s)://`` by a streamed GET (MLflow's artifact proxy on our stack, an object store's
HTTPS endpoint in production) and ``file:`` by a plain read. Reads stop at the size the
signed reference declares (and never beyond ``max_bytes``), the whole fetch has a deadline,
and the bytes are checked against the reference's sha256 both after a download and when
read back from the cache, so a cache another process could write to is only a cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from streamrec.model_package.errors import (
    ArtifactDigestError,
    ArtifactError,
    ArtifactTooLargeError,
)
from streamrec.model_package.reference import ModelReference

# Safe default: ~4x the 100K-item package (27.5 MB); raise it with the job's
# --max-model-bytes for larger catalogues.
DEFAULT_MAX_ARTIFACT_BYTES = 128 * 1024 * 1024
DEFAULT_FETCH_TIMEOUT_S = 60.0
_READ_BLOCK = 1024 * 1024


def default_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / "streamrec-model-cache"


@dataclass(frozen=True)
class ArtifactFetcher:
    cache_dir: Path
    max_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    timeout_s: float = DEFAULT_FETCH_TIMEOUT_S

    def fetch(self, ref: ModelReference) -> bytes:
        """The package bytes of ``ref``, or an ArtifactError subclass naming the problem."""
        if ref.size > self.max_bytes:
            raise ArtifactTooLargeError(
                f"{ref.describe()} is {ref.size} bytes, the job accepts at most {self.max_bytes} "
                "(--max-model-bytes)"
            )
        cached = self._from_cache(ref)
        if cached is not None:
            return cached
        data = self._download(ref)
        self._to_cache(ref, data)
        return data

    def _cache_path(self, ref: ModelReference) -> Path:
        return self.cache_dir / f"{ref.sha256}.srpkg"

    def _from_cache(self, ref: ModelReference) -> bytes | None:
        path = self._cache_path(ref)
        try:
            with path.open("rb") as f:
                data = f.read(ref.size + 1)
        except OSError:
            return None
        if len(data) == ref.size and hashlib.sha256(data).hexdigest() == ref.sha256:
            return data
        path.unlink(missing_ok=True)  # damaged or foreign: fetch afresh
        return None

    def _to_cache(self, ref: ModelReference, data: bytes) -> None:
        # Best effort: a full disk must not reject a verified package.
        try:
            self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self._cache_path(ref))  # readers never see half a file
        except OSError:
            return

    def _download(self, ref: ModelReference) -> bytes:
        where = f"{ref.describe()} at {ref.uri}"
        deadline = time.monotonic() + self.timeout_s
        try:
            with _open(ref.uri, self.timeout_s) as stream:
                data = _read_bounded(stream, ref.size, deadline, where)
        except ArtifactError:
            raise
        except urllib.error.HTTPError as ex:
            raise ArtifactError(f"{where}: HTTP {ex.code} {ex.reason}") from None
        except urllib.error.URLError as ex:
            raise ArtifactError(f"{where}: unreachable: {ex.reason}") from None
        except (OSError, ValueError) as ex:  # timeouts, refused connections, bad paths
            raise ArtifactError(f"{where}: {type(ex).__name__}: {ex}") from None
        if len(data) != ref.size:
            raise ArtifactDigestError(f"{where}: {len(data)} bytes, the reference says {ref.size}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != ref.sha256:
            raise ArtifactDigestError(f"{where}: sha256 is {digest}, the reference says otherwise")
        return data


def _open(uri: str, timeout_s: float) -> BinaryIO:
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        return urllib.request.urlopen(uri, timeout=timeout_s)  # scheme checked above
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(unquote(parsed.path)).open("rb")
    raise ArtifactError(f"cannot fetch {uri[:80]!r}: only http(s):// and local file: URIs")


def _read_bounded(stream: BinaryIO, size: int, deadline: float, where: str) -> bytes:
    """At most ``size`` bytes; one byte more means the artifact is not the one named."""
    parts: list[bytes] = []
    got = 0
    while got <= size:
        if time.monotonic() > deadline:
            raise ArtifactError(f"{where}: not fetched within the deadline ({got} bytes read)")
        block = stream.read(min(_READ_BLOCK, size + 1 - got))
        if not block:
            break
        parts.append(block)
        got += len(block)
    if got > size:
        raise ArtifactTooLargeError(f"{where}: larger than the {size} bytes the reference says")
    return b"".join(parts)
