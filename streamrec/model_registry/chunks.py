"""Split a package into Kafka-sized chunks and put it back together, verified.

Kafka's default message limit is 1 MB; a package for a 100K-item catalogue is tens of MB.
Each chunk is self-describing: a small JSON header (package sha256, index, total, model
name, version) followed by the payload, so a plain consumer can reassemble and verify.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from streamrec.model_registry.errors import ChecksumMismatchError, ChunkError

MAGIC = b"SRPC"
_HEADER_LEN = struct.Struct(">I")
# 900 KiB payload + header stays under Kafka's default 1 MiB max.message.bytes
# (1048588 bytes with record overhead).
DEFAULT_MAX_CHUNK_BYTES = 900 * 1024


def package_sha256(package: bytes) -> str:
    return hashlib.sha256(package).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """One piece of a package."""

    model_name: str
    version: str
    package_sha256: str
    index: int
    total: int
    data: bytes

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "model_name": self.model_name,
                "version": self.version,
                "package_sha256": self.package_sha256,
                "index": self.index,
                "total": self.total,
                "size": len(self.data),
            },
            sort_keys=True,
        ).encode()
        return MAGIC + _HEADER_LEN.pack(len(header)) + header + self.data

    @classmethod
    def from_bytes(cls, raw: bytes) -> Chunk:
        if raw[:4] != MAGIC or len(raw) < 8:
            raise ChunkError(f"not a package chunk: starts with {raw[:4]!r}, expected {MAGIC!r}")
        (hlen,) = _HEADER_LEN.unpack(raw[4:8])
        try:
            head = json.loads(raw[8 : 8 + hlen])
            data = raw[8 + hlen :]
            if len(data) != head["size"]:
                raise ChunkError(f"chunk payload is {len(data)} bytes, header says {head['size']}")
            return cls(
                str(head["model_name"]),
                str(head["version"]),
                str(head["package_sha256"]),
                int(head["index"]),
                int(head["total"]),
                data,
            )
        except (ValueError, KeyError, TypeError) as ex:
            raise ChunkError(f"chunk header unreadable: {ex}") from ex


def chunk(
    package: bytes,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    *,
    model_name: str = "",
    version: str = "",
) -> list[Chunk]:
    """Split ``package`` into ordered chunks of at most ``max_chunk_bytes`` payload each."""
    if max_chunk_bytes <= 0:
        raise ValueError(f"max_chunk_bytes must be positive, got {max_chunk_bytes}")
    digest = package_sha256(package)
    pieces = [
        package[i : i + max_chunk_bytes] for i in range(0, len(package), max_chunk_bytes)
    ] or [b""]
    return [Chunk(model_name, version, digest, i, len(pieces), p) for i, p in enumerate(pieces)]


def reassemble(chunks: Sequence[Chunk]) -> bytes:
    """Join chunks given in order; reject missing, duplicate, reordered or foreign chunks."""
    if not chunks:
        raise ChunkError("no chunks to reassemble")
    first = chunks[0]
    for pos, c in enumerate(chunks):
        if c.package_sha256 != first.package_sha256:
            raise ChunkError(
                f"chunk at position {pos} belongs to package {c.package_sha256[:12]}, "
                f"expected {first.package_sha256[:12]}"
            )
        if c.total != first.total:
            raise ChunkError(
                f"chunk at position {pos} says total {c.total}, first chunk says {first.total}"
            )
    indices = [c.index for c in chunks]
    expected = list(range(first.total))
    if indices != expected:
        dupes = sorted({i for i in indices if indices.count(i) > 1})
        missing = sorted(set(expected) - set(indices))
        if dupes:
            raise ChunkError(f"duplicate chunk indices {dupes} (of {first.total})")
        if missing:
            raise ChunkError(f"missing chunk indices {missing} (of {first.total})")
        raise ChunkError(f"chunks out of order: got indices {indices}, expected {expected}")
    package = b"".join(c.data for c in chunks)
    digest = package_sha256(package)
    if digest != first.package_sha256:
        raise ChecksumMismatchError(
            f"reassembled package sha256 is {digest}, chunks say {first.package_sha256}"
        )
    return package


class ChunkAssembler:
    """Incremental reassembly for a consumer reading chunks one message at a time.

    Chunk 0 of a new package discards any unfinished one, so a publisher that died
    half-way cannot wedge the consumer.
    """

    def __init__(self) -> None:
        self._pending: list[Chunk] = []

    def add(self, c: Chunk) -> bytes | None:
        """Feed one chunk; return the package bytes when it completes one, else None."""
        if c.index == 0:
            self._pending = [c]
        elif self._pending and c.package_sha256 == self._pending[0].package_sha256:
            self._pending.append(c)
        else:
            raise ChunkError(
                f"chunk {c.index}/{c.total} of {c.model_name} v{c.version} "
                "arrived without its first chunk"
            )
        if len(self._pending) < c.total:
            return None
        done, self._pending = self._pending, []
        return reassemble(done)
