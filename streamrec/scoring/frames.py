"""Length-prefixed pickle frames between the scoring operator and its scoring worker.

Both ends are this package, started together by the operator, so pickle carries only
our own dataclasses and numpy-free plain values; nothing from outside the job is ever
unpickled (events and packages were validated before they got here).
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

_HEADER = struct.Struct("!Q")


class WorkerGone(EOFError):
    """The other end closed the pipe (the worker exited or was killed)."""


def write_frame(stream: BinaryIO, message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    header = _read_exactly(stream, _HEADER.size)
    (size,) = _HEADER.unpack(header)
    return pickle.loads(_read_exactly(stream, size))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise WorkerGone("the scoring worker's pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
