"""Arrays and name lists from untrusted bytes.

``.npy``: the header is checked against what the caller expects before anything is
allocated; the data is then viewed in place and copied once.

np.load is not used: for a stream it allocates whatever the header declares before
reading (10^12 floats from a 200-byte member), and its object/pickle branch is one
keyword away. Here only two little-endian dtypes exist, in C order, of an exact shape.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np

from streamrec.model_package.errors import InvalidContentError, PackageError
from streamrec.model_package.package_limits import PackageLimits

F32 = np.dtype("<f4")
I32 = np.dtype("<i4")


def npy_bytes(array: np.ndarray, dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)
    return buf.getvalue()


def read_npy(
    data: bytes,
    name: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    shape_error: type[PackageError] = InvalidContentError,
) -> np.ndarray:
    """The array in ``data``, which must be ``dtype`` and exactly ``shape``; a wrong
    shape raises ``shape_error``, anything else InvalidContentError."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            declared, fortran, found = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            declared, fortran, found = np.lib.format.read_array_header_2_0(stream)
        else:
            raise InvalidContentError(f"{name}: npy format version {version} is not supported")
    except InvalidContentError:
        raise
    except Exception as ex:  # numpy's header parser raises ValueError, SyntaxError, TokenError...
        raise InvalidContentError(
            f"{name}: not a readable npy array: {type(ex).__name__}: {ex}"
        ) from ex
    if found != dtype:  # also refuses object dtypes, which is where pickles live
        raise InvalidContentError(f"{name}: dtype {found.str} where {dtype.str} is required")
    if fortran:
        raise InvalidContentError(f"{name}: Fortran-ordered arrays are not written by packages")
    if tuple(declared) != shape:
        raise shape_error(f"{name}: shape {tuple(declared)} where {shape} is required")
    offset = stream.tell()
    count = math.prod(shape)
    if len(data) - offset != count * dtype.itemsize:
        raise InvalidContentError(
            f"{name}: {len(data) - offset} data bytes for shape {shape} of {dtype.str}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise InvalidContentError(f"{name}: contains NaN or infinite values")
    return array.copy()  # owned and writable; frees the member's bytes with the zip


def read_names(raw: bytes, name: str, count: int, limits: PackageLimits) -> list[str]:
    """A JSON list of ``count`` distinct, non-empty, printable, bounded UTF-8 strings."""
    try:
        values = json.loads(raw)
    except (ValueError, RecursionError) as ex:
        raise InvalidContentError(f"{name}: not JSON: {ex}") from ex
    if not isinstance(values, list) or not all(type(v) is str for v in values):
        raise InvalidContentError(f"{name}: expected a JSON list of strings")
    if len(values) != count:
        raise InvalidContentError(f"{name}: {len(values)} entries, manifest says {count}")
    # Whole-list checks run at C speed: 5M ids in well under a second.
    joined = "".join(values)
    if min(map(len, values)) < 1 or max(map(len, values)) > limits.max_id_chars:
        raise InvalidContentError(f"{name}: entries must have 1 to {limits.max_id_chars} chars")
    if not joined.isprintable():
        raise InvalidContentError(f"{name}: entries contain control characters")
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError as ex:
        raise InvalidContentError(f"{name}: entries are not valid UTF-8 ({ex.reason})") from ex
    if len(set(values)) != len(values):
        raise InvalidContentError(f"{name}: entries are not unique")
    return values
