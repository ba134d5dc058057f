import os

import pytest

from streamrec.model_registry.chunks import Chunk, ChunkAssembler, chunk, reassemble
from streamrec.model_registry.errors import ChecksumMismatchError, ChunkError, StreamrecError

PACKAGE = os.urandom(2_500_000)  # larger than Kafka's default 1 MB message


def test_round_trip_through_bytes_under_one_megabyte_each() -> None:
    chunks = chunk(PACKAGE, model_name="m", version="3")
    raws = [c.to_bytes() for c in chunks]
    assert len(chunks) == 3 and max(len(r) for r in raws) < 1_000_000
    assert reassemble([Chunk.from_bytes(r) for r in raws]) == PACKAGE


def test_missing_chunk_is_named() -> None:
    chunks = chunk(PACKAGE, 1_000_000)
    with pytest.raises(ChunkError, match=r"missing chunk indices \[1\]"):
        reassemble([chunks[0], chunks[2]])


def test_duplicate_chunk_is_named() -> None:
    chunks = chunk(PACKAGE, 1_000_000)
    with pytest.raises(ChunkError, match=r"duplicate chunk indices \[1\]"):
        reassemble([chunks[0], chunks[1], chunks[1]])


def test_reordered_chunks_rejected() -> None:
    chunks = chunk(PACKAGE, 1_000_000)
    with pytest.raises(ChunkError, match="out of order"):
        reassemble([chunks[0], chunks[2], chunks[1]])


def test_chunk_from_another_package_rejected() -> None:
    ours, theirs = chunk(PACKAGE, 1_000_000), chunk(PACKAGE[::-1], 1_000_000)
    with pytest.raises(ChunkError, match="belongs to package"):
        reassemble([ours[0], theirs[1], ours[2]])


def test_tampered_payload_fails_checksum() -> None:
    chunks = chunk(PACKAGE, 1_000_000)
    bad = Chunk(**{**chunks[1].__dict__, "data": b"x" + chunks[1].data[1:]})
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        reassemble([chunks[0], bad, chunks[2]])
    assert issubclass(ChecksumMismatchError, StreamrecError)


def test_garbled_chunk_bytes_rejected() -> None:
    raw = chunk(PACKAGE, 1_000_000)[0].to_bytes()
    with pytest.raises(ChunkError, match="not a package chunk"):
        Chunk.from_bytes(b"XXXX" + raw[4:])
    with pytest.raises(ChunkError, match="payload"):
        Chunk.from_bytes(raw[:-10])


def test_assembler_completes_and_restarts_on_new_first_chunk() -> None:
    first, second = chunk(PACKAGE, 1_000_000), chunk(b"small package", 1_000_000)
    asm = ChunkAssembler()
    assert asm.add(first[0]) is None and asm.add(first[1]) is None
    assert asm.add(second[0]) == b"small package"  # abandoned half package dropped
    with pytest.raises(ChunkError, match="without its first chunk"):
        asm.add(first[2])
