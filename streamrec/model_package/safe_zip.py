"""Reading a package container that may be hostile: bounded before and during reading.

Checked before zipfile parses the central directory: the end record's member count and
directory size (a 512 MiB directory of tiny entries would otherwise cost seconds and
gigabytes of ZipInfo objects). Checked per member before decompressing: a name from the
format's alphabet, no duplicates, no encryption, stored or deflated only, declared size
under the caps. Checked while reading: the bytes produced, since a header can lie.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from io import BytesIO

from streamrec.model_package.errors import (
    ChecksumMismatchError,
    CorruptPackageError,
    PackageLimitError,
    UnexpectedMemberError,
)
from streamrec.model_package.package_limits import PackageLimits

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_MAX_COMMENT = 0xFFFF
# A directory entry is 46 bytes plus its name (ours are short) and extra fields.
_MAX_DIRECTORY_ENTRY_BYTES = 1024
# Lower-case words, an optional index, a known extension: no paths, no dots to climb.
MEMBER_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}(\.[0-9]{1,3})?\.(json|npy)")
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


class SafeZip:
    """The members of a package container, read under ``limits``."""

    def __init__(self, package: bytes, limits: PackageLimits) -> None:
        self.limits = limits
        _check_end_record(package, limits)
        try:
            self._zf = zipfile.ZipFile(BytesIO(package))
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError) as ex:
            raise CorruptPackageError(
                f"not a model package container ({len(package)} bytes): {ex}"
            ) from ex
        infos = self._zf.infolist()
        if len(infos) > limits.max_members:
            raise PackageLimitError(f"{len(infos)} members, limit is {limits.max_members}")
        self.members: dict[str, zipfile.ZipInfo] = {}
        declared = 0
        for info in infos:
            _check_member(info, limits)
            if info.filename in self.members:
                raise UnexpectedMemberError(f"member {info.filename} appears twice")
            self.members[info.filename] = info
            declared += info.file_size
        if declared > limits.max_decompressed_bytes:
            raise PackageLimitError(
                f"members declare {declared} bytes decompressed, "
                f"limit is {limits.max_decompressed_bytes}"
            )
        self._read_total = 0

    def read(self, name: str, cap: int | None = None) -> bytes:
        """A member's bytes, at most ``cap`` (default max_member_bytes) and never more
        than it declared; the running total is capped too."""
        info = self.members.get(name)
        if info is None:
            raise CorruptPackageError(f"package has no member {name}")
        cap = self.limits.max_member_bytes if cap is None else cap
        if info.file_size > cap:
            raise PackageLimitError(f"member {name} declares {info.file_size} bytes, cap {cap}")
        left = self.limits.max_decompressed_bytes - self._read_total
        budget = min(info.file_size, left)
        try:
            with self._zf.open(info) as stream:
                # One byte over the budget tells a lying header from an honest one; the
                # decompressor never produces more than asked for.
                data = stream.read(budget + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as ex:
            # zipfile's CRC check lands here when bytes were altered in place.
            raise ChecksumMismatchError(f"member {name} is damaged: {ex}") from ex
        self._read_total += len(data)
        if len(data) > budget:
            raise PackageLimitError(
                f"member {name} decompresses past its declared {info.file_size} bytes "
                f"or the package's {self.limits.max_decompressed_bytes}"
            )
        if len(data) != info.file_size:
            raise ChecksumMismatchError(
                f"member {name} has {len(data)} bytes, its header says {info.file_size}"
            )
        return data

    def close(self) -> None:
        self._zf.close()


def _check_end_record(package: bytes, limits: PackageLimits) -> None:
    # Find the end record where zipfile will: at the very end, else the last one within
    # a comment's length of the end.
    tail = len(package) - _EOCD.size
    if tail >= 0 and package[tail : tail + 4] == _EOCD_SIG and package[-2:] == b"\0\0":
        pos = tail
    else:
        pos = package.rfind(_EOCD_SIG, max(0, tail - _MAX_COMMENT))
    if pos < 0 or pos + _EOCD.size > len(package):
        raise CorruptPackageError(f"not a model package container ({len(package)} bytes)")
    _, disk, cd_disk, here, total, cd_size, _, _ = _EOCD.unpack_from(package, pos)
    if pos >= 20 and package[pos - 20 : pos - 16] == _ZIP64_LOCATOR_SIG:
        raise UnexpectedMemberError("zip64 containers are not package containers")
    if disk or cd_disk or here != total:
        raise CorruptPackageError("multi-part zip archives are not package containers")
    if total > limits.max_members:
        raise PackageLimitError(f"{total} members, limit is {limits.max_members}")
    if cd_size > limits.max_members * _MAX_DIRECTORY_ENTRY_BYTES:
        raise PackageLimitError(f"zip directory of {cd_size} bytes is larger than plausible")


def _check_member(info: zipfile.ZipInfo, limits: PackageLimits) -> None:
    name = info.filename
    if not MEMBER_NAME.fullmatch(name):
        raise UnexpectedMemberError(f"member name {name[:80]!r} is not a package member name")
    if info.flag_bits & 0x1:
        raise UnexpectedMemberError(f"member {name} is encrypted")
    if info.compress_type not in _METHODS:
        raise UnexpectedMemberError(
            f"member {name} uses compression method {info.compress_type}; "
            "packages use stored or deflate"
        )
    if info.file_size > limits.max_member_bytes:
        raise PackageLimitError(
            f"member {name} declares {info.file_size} bytes, limit is {limits.max_member_bytes}"
        )
