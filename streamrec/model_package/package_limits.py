"""Caps on what the package loader accepts, checked before the work they bound is done.

A package comes from the network; without caps a few hundred bytes can ask for gigabytes
(a zip bomb, an ``.npy`` header declaring 10^12 floats, a directory of a million members).
The defaults fit the largest catalogue we plan for with room to spare; the job passes
overrides from its flags. Every cap is checked against what the bytes *declare* before
reading or allocating, and again against what reading actually produces.

How the defaults relate: per catalogue item a package holds about 470 bytes at D=64 (the
item embedding, the user tower's 48-wide id embedding, category, dense features, id), so
the 1 GiB decompressed cap binds before ``max_items`` at D=64 (about 2.2M items);
``max_items`` is the bound for narrower models.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MIB = 1024 * 1024

DEFAULT_MAX_PACKAGE_BYTES = 512 * MIB
"""The package as received (compressed container)."""
DEFAULT_MAX_DECOMPRESSED_BYTES = 1024 * MIB
"""Sum of all members' decompressed sizes."""
DEFAULT_MAX_MEMBER_BYTES = 512 * MIB
"""One member, decompressed."""
DEFAULT_MAX_MANIFEST_BYTES = 1 * MIB
"""manifest.json, decompressed (it holds names, numbers and training params only)."""
DEFAULT_MAX_MEMBERS = 64
"""Zip members (a package with a ranker has 18)."""
DEFAULT_MAX_ITEMS = 5_000_000
"""Catalogue rows."""
DEFAULT_MAX_CATEGORIES = 10_000
"""Category vocabulary (also the width of each user's affinity input)."""
DEFAULT_MAX_EMBEDDING_DIM = 1024
DEFAULT_MAX_ID_CHARS = 256
"""Item ids, category names, model name and version."""
DEFAULT_MAX_JSON_DEPTH = 32
"""Nesting of manifest.json (training params included)."""


@dataclass(frozen=True)
class PackageLimits:
    """What ``load_package`` accepts; over a cap it raises PackageLimitError."""

    max_package_bytes: int = DEFAULT_MAX_PACKAGE_BYTES
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES
    max_members: int = DEFAULT_MAX_MEMBERS
    max_items: int = DEFAULT_MAX_ITEMS
    max_categories: int = DEFAULT_MAX_CATEGORIES
    max_embedding_dim: int = DEFAULT_MAX_EMBEDDING_DIM
    max_id_chars: int = DEFAULT_MAX_ID_CHARS
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    def __post_init__(self) -> None:
        # A misconfigured cap is an operator error, found at job start, not per package.
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"PackageLimits.{f.name} must be a positive int, got {value!r}")


DEFAULT_LIMITS = PackageLimits()
