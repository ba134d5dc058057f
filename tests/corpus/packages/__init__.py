"""Bad model packages, generated from a valid one: each must be rejected with its error.

Packages are binary and follow the format, so they are built here rather than stored:
``bad_packages(valid)`` takes a valid package (from ``build_package``) and returns one
case per kind of damage or hostility. Where a case edits a member, the manifest's sha256
table is rewritten to match, so that the check under test (not the digest) rejects it.
The unit tests load each case; the integration test publishes each to a running job and
checks it is rejected while the previous model keeps serving.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.corpus.packages.transitions import transition_cases

MIB = 1024 * 1024
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BadPackage:
    name: str
    package: bytes
    expected_error: str
    """Class name in streamrec.model_registry.errors that load_package must raise."""
    description: str

    @property
    def package_bytes(self) -> bytes:
        return self.package


@dataclass
class RawMember:
    """A zip member written byte by byte, headers included, so they can lie."""

    name: str
    payload: bytes
    method: int = zipfile.ZIP_STORED
    crc: int | None = None
    file_size: int | None = None
    flags: int = 0


def unpack(package: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(manifest, other members) of a valid package."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(files.pop(MANIFEST)), files


def repack(manifest: dict[str, Any] | bytes, files: dict[str, bytes], rehash: bool = True) -> bytes:
    """A container of ``manifest`` (a dict, or raw bytes written as given) and ``files``;
    ``rehash`` makes the artifacts table match the members again."""
    if isinstance(manifest, dict) and isinstance(manifest.get("artifacts"), dict) and rehash:
        manifest = {**manifest, "artifacts": _table(manifest, files)}
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(MANIFEST, raw, zipfile.ZIP_DEFLATED)
        for name, data in files.items():
            zf.writestr(name, data, zipfile.ZIP_STORED)
    return buf.getvalue()


def _table(manifest: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
    listed = manifest["artifacts"]
    return {
        n: {"sha256": hashlib.sha256(files[n]).hexdigest(), "size": len(files[n])}
        if n in files
        else listed[n]
        for n in listed
    }


def raw_zip(members: list[RawMember], *, zip64_locator: bool = False) -> bytes:
    """A zip whose local and central headers say what each RawMember says."""
    out = io.BytesIO()
    central = io.BytesIO()
    for m in members:
        name = m.name.encode("utf-8")
        crc = zlib.crc32(m.payload) if m.crc is None else m.crc
        size = len(m.payload) if m.file_size is None else m.file_size
        offset = out.tell()
        out.write(
            struct.pack(
                "<4s5H3L2H",
                b"PK\x03\x04",
                20,
                m.flags | 0x800,
                m.method,
                0,
                0,
                crc,
                len(m.payload),
                min(size, 0xFFFFFFFF),
                len(name),
                0,
            )
        )
        out.write(name + m.payload)
        central.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                m.flags | 0x800,
                m.method,
                0,
                0,
                crc,
                len(m.payload),
                min(size, 0xFFFFFFFF),
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        central.write(name)
    start = out.tell()
    out.write(central.getvalue())
    if zip64_locator:
        out.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, out.tell(), 1))
    count = len(members)
    out.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central.getvalue()), start, 0
        )
    )
    return out.getvalue()


def _members(package: bytes) -> list[RawMember]:
    """A valid package as RawMembers (manifest first), to damage headers one by one."""
    manifest, files = unpack(package)
    return [RawMember(MANIFEST, json.dumps(manifest).encode())] + [
        RawMember(n, d) for n, d in files.items()
    ]


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _npy_header_only(shape: tuple[int, ...], descr: str = "<f4", data: bytes = b"") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _array(files: dict[str, bytes], name: str) -> np.ndarray:
    return np.load(io.BytesIO(files[name]), allow_pickle=False)


def _deflated_zeros(mib: int) -> bytes:
    """A raw deflate stream of ``mib`` MiB of zeros (about 1 KiB per MiB), made without
    compressing them: after a full flush the compressor starts afresh, so one MiB's
    output repeats verbatim."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = comp.compress(bytes(MIB)) + comp.flush(zlib.Z_FULL_FLUSH)
    return piece * mib + comp.flush()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def bad_packages(valid: bytes) -> list[BadPackage]:
    """Every kind of bad package, derived from ``valid`` (a package load_package accepts)."""
    manifest, files = unpack(valid)
    n, dim = manifest["n_items"], manifest["embedding_dim"]
    n_cat = manifest["n_categories"]
    cases: list[BadPackage] = []

    def add(name: str, package: bytes, error: str, description: str) -> None:
        cases.append(BadPackage(name, package, error, description))

    def edit_manifest(change: Callable[[dict[str, Any]], None]) -> bytes:
        edited = json.loads(json.dumps(manifest))
        change(edited)
        return repack(edited, files)

    def replace(name: str, data: bytes) -> bytes:
        return repack(manifest, {**files, name: data})

    # --- the container ---------------------------------------------------------------
    add("not_a_zip", os.urandom(4096), "CorruptPackageError", "random bytes")
    add("empty", b"", "CorruptPackageError", "zero bytes")
    add("truncated", valid[: len(valid) // 2], "CorruptPackageError", "first half of a package")
    add(
        "no_manifest",
        raw_zip([m for m in _members(valid) if m.name != MANIFEST]),
        "CorruptPackageError",
        "members without manifest.json",
    )
    # CRCs of the bombs are left 0: the size caps must reject them before a byte is inflated.
    bomb = _deflated_zeros(600)
    add(
        "zip_bomb_member",
        raw_zip(
            [
                *_members(valid),
                RawMember("bomb.json", bomb, zipfile.ZIP_DEFLATED, 0, 600 * MIB),
            ]
        ),
        "PackageLimitError",
        f"a {len(bomb) // 1024} KiB member inflating to 600 MiB (per-member cap 512 MiB)",
    )
    add(
        "zip_bomb_total",
        raw_zip(
            [*_members(valid)]
            + [
                RawMember(f"bomb_{i}.json", bomb, zipfile.ZIP_DEFLATED, 0, 400 * MIB)
                for i in range(3)
            ]
        ),
        "PackageLimitError",
        "three members declaring 400 MiB each: 1.2 GiB in total (cap 1 GiB)",
    )
    lying = _members(valid)
    small = _deflated_zeros(64)
    for m in lying:
        if m.name == "item_ids.json":
            m.payload, m.method = small, zipfile.ZIP_DEFLATED
            m.file_size = len(files["item_ids.json"])
    add(
        "zip_bomb_lying_header",
        raw_zip(lying),
        "ChecksumMismatchError",
        "item_ids.json's header says its real size but the stream inflates to 64 MiB",
    )
    add(
        "too_many_members",
        raw_zip([RawMember(f"m{i}.json", b"{}") for i in range(5000)]),
        "PackageLimitError",
        "5,000 members (cap 64)",
    )
    for name, trick in [
        ("path_traversal", "../../../../tmp/evil.json"),
        ("absolute_path", "/etc/cron.d/evil.json"),
        ("backslash_path", "..\\..\\evil.json"),
    ]:
        add(
            name,
            raw_zip([*_members(valid), RawMember(trick, b"{}")]),
            "UnexpectedMemberError",
            f"member named {trick!r}",
        )
    add(
        "duplicate_member",
        raw_zip([*_members(valid), RawMember("item_ids.json", b'["x"]')]),
        "UnexpectedMemberError",
        "item_ids.json twice (zipfile would read the second)",
    )
    add(
        "unlisted_member",
        raw_zip([*_members(valid), RawMember("extra.json", b"{}")]),
        "UnexpectedMemberError",
        "a well-named member the manifest does not list",
    )
    encrypted = _members(valid)
    encrypted[1].flags = 0x1
    add("encrypted_member", raw_zip(encrypted), "UnexpectedMemberError", "encryption flag set")
    bz = _members(valid)
    bz[1].payload, bz[1].method = bz2.compress(bz[1].payload), zipfile.ZIP_BZIP2
    add("bzip2_member", raw_zip(bz), "UnexpectedMemberError", "bzip2, not stored/deflate")
    add(
        "zip64_locator",
        raw_zip(_members(valid), zip64_locator=True),
        "UnexpectedMemberError",
        "a zip64 end locator (its counts would override the checked ones)",
    )
    dense = _array(files, "item_dense.npy")
    flipped = bytearray(valid)
    flipped[valid.index(b"\x93NUMPY") + 200] ^= 0xFF
    add("flipped_byte", bytes(flipped), "ChecksumMismatchError", "one byte of an array flipped")
    add(
        "artifact_digest_wrong",
        repack(manifest, {**files, "item_dense.npy": _npy(dense * 2)}, rehash=False),
        "ChecksumMismatchError",
        "item_dense.npy changed, manifest sha256 not",
    )

    # --- the manifest ----------------------------------------------------------------
    add("manifest_not_json", repack(b"{not json", files), "InvalidManifestError", "garbage")
    add(
        "manifest_not_utf8",
        repack(b'{"format_version": 2, "model_name": "\xff\xfe"}', files),
        "InvalidManifestError",
        "invalid UTF-8",
    )
    add(
        "manifest_nested_deep",
        repack(
            json.dumps(manifest)[:-1].encode() + b', "params": ' + _nested(10_000).encode() + b"}",
            files,
        ),
        "InvalidManifestError",
        "params nested 10,000 deep",
    )
    add(
        "manifest_top_level_list",
        repack(b"[" + json.dumps(manifest).encode() + b"]", files),
        "InvalidManifestError",
        "a JSON list, not an object: no format_version",
    )
    add(
        "manifest_wrong_type",
        edit_manifest(lambda m: m.update(n_items=str(m["n_items"]))),
        "InvalidManifestError",
        'n_items is "150", a string',
    )
    add(
        "manifest_bool_count",
        edit_manifest(lambda m: m["architecture"]["user_tower"].update(id_dim=True)),
        "InvalidManifestError",
        "id_dim is true",
    )
    add(
        "manifest_missing_field",
        edit_manifest(lambda m: m.pop("architecture")),
        "InvalidManifestError",
        "no architecture",
    )
    add(
        "manifest_huge_count",
        edit_manifest(lambda m: m.update(n_items=10**30)),
        "PackageLimitError",
        "n_items 10^30",
    )
    add(
        "manifest_1e400",
        repack(
            json.dumps({**manifest, "created_ms": 123456789})
            .replace('"created_ms": 123456789', '"created_ms": 1e400')
            .encode(),
            files,
        ),
        "InvalidManifestError",
        "created_ms 1e400 (a float, infinite)",
    )
    add(
        "manifest_nan_metric",
        repack(json.dumps({**manifest, "metrics": {"recall_at_20": float("nan")}}).encode(), files),
        "InvalidManifestError",
        "a NaN metric",
    )
    add(
        "manifest_lone_surrogate_version",
        repack(json.dumps({**manifest, "version": "\ud800"}).encode(), files),
        "InvalidManifestError",
        "version is a lone surrogate (Cassandra and Kafka would refuse it later)",
    )
    add(
        "format_1",
        edit_manifest(lambda m: m.update(format_version=1)),
        "UnsupportedFormatError",
        "format 1 (Keras architecture JSON); must be republished",
    )
    add(
        "format_future",
        edit_manifest(lambda m: m.update(format_version=99)),
        "UnsupportedFormatError",
        "format 99",
    )
    add(
        "architecture_code_activation",
        edit_manifest(
            lambda m: m["architecture"]["user_tower"]["hidden"][0].update(
                activation="__import__('os').system"
            )
        ),
        "InvalidManifestError",
        "an activation outside the allow-list",
    )
    add(
        "architecture_keras_json",
        edit_manifest(
            lambda m: m["architecture"].update(
                user_tower={"class_name": "Lambda", "config": {"function": "..."}}
            )
        ),
        "InvalidManifestError",
        "a Keras config where a spec belongs",
    )
    add(
        "architecture_huge_layer",
        edit_manifest(lambda m: m["architecture"]["user_tower"]["hidden"][0].update(units=10**9)),
        "InvalidManifestError",
        "a Dense layer of 10^9 units",
    )
    if manifest["architecture"].get("ranker"):
        add(
            "ranker_inputs_mismatch",
            edit_manifest(lambda m: m["architecture"]["ranker"].update(user_dense_width=3)),
            "InvalidManifestError",
            "ranker expects a user_dense width the job does not build",
        )
    add(
        "embedding_dim_disagrees",
        edit_manifest(lambda m: m.update(embedding_dim=dim + 1)),
        "EmbeddingDimensionError",
        "manifest embedding_dim differs from the user tower's output",
    )
    add(
        "empty_catalogue",
        edit_manifest(lambda m: m.update(n_items=0)),
        "InvalidManifestError",
        "n_items 0",
    )
    add(
        "wrong_feature_spec",
        edit_manifest(lambda m: m["feature_spec"].update(half_life_ms=1)),
        "FeatureSpecMismatchError",
        "trained with a feature half-life the job does not use",
    )

    # --- the arrays and lists --------------------------------------------------------
    add(
        "npy_header_1e12_floats",
        replace("item_dense.npy", _npy_header_only((10**12, 2))),
        "InvalidContentError",
        "item_dense.npy header declares 2x10^12 floats, holds none",
    )
    add(
        "npy_embeddings_1e12",
        replace("item_embeddings.npy", _npy_header_only((10**12, dim))),
        "EmbeddingDimensionError",
        "item_embeddings.npy header declares 10^12 rows",
    )
    add(
        "npy_object_dtype",
        replace("item_dense.npy", _npy(np.array([{"a": 1}] * n, dtype=object))),
        "InvalidContentError",
        "a pickled object array",
    )
    add(
        "npy_big_endian",
        replace("item_dense.npy", _npy(_array(files, "item_dense.npy").astype(">f4"))),
        "InvalidContentError",
        "dtype >f4",
    )
    add(
        "npy_garbage_header",
        replace("item_dense.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': __import__}\n"),
        "InvalidContentError",
        "a header that is not a literal",
    )
    emb = _array(files, "item_embeddings.npy").copy()
    emb[0, 0] = np.nan
    add("embeddings_nan", replace("item_embeddings.npy", _npy(emb)), "InvalidContentError", "NaN")
    weight = _array(files, "user_tower.1.npy").copy()
    weight[0, 0] = np.inf
    add("weights_inf", replace("user_tower.1.npy", _npy(weight)), "InvalidContentError", "inf")
    add(
        "weights_wrong_shape",
        replace("user_tower.1.npy", _npy(np.zeros_like(weight[:-1]))),
        "InvalidContentError",
        "a kernel one row short",
    )
    cats = _array(files, "item_categories.npy").copy()
    cats[0] = n_cat + 5
    add(
        "category_index_out_of_range",
        replace("item_categories.npy", _npy(cats)),
        "InvalidContentError",
        "a category index past the categories list",
    )
    cats[0] = -1
    add(
        "category_index_negative",
        replace("item_categories.npy", _npy(cats)),
        "InvalidContentError",
        "category index -1",
    )
    add(
        "item_dense_short",
        replace("item_dense.npy", _npy(dense[:-1].copy())),
        "InvalidContentError",
        "item_dense has one row fewer than items",
    )
    add(
        "item_dense_wrong_width",
        replace("item_dense.npy", _npy(np.concatenate([dense, dense], axis=1))),
        "InvalidContentError",
        "item_dense twice as wide as declared",
    )
    ids = json.loads(files["item_ids.json"])
    add(
        "duplicate_item_ids",
        replace("item_ids.json", json.dumps([ids[0], *ids[:-1]]).encode()),
        "InvalidContentError",
        "the first item id twice",
    )
    add(
        "item_ids_count_mismatch",
        replace("item_ids.json", json.dumps(ids[:-1]).encode()),
        "InvalidContentError",
        "one item id fewer than n_items",
    )
    add(
        "item_ids_not_strings",
        replace("item_ids.json", json.dumps(list(range(n))).encode()),
        "InvalidContentError",
        "integers as item ids",
    )
    add(
        "item_id_lone_surrogate",
        replace("item_ids.json", json.dumps(["\udc80", *ids[1:]]).encode()),
        "InvalidContentError",
        "an item id that is not valid UTF-8",
    )
    add(
        "item_ids_nested_deep",
        replace("item_ids.json", _nested(100_000).encode()),
        "InvalidContentError",
        "item_ids.json nested 100,000 deep",
    )
    for case in transition_cases(manifest, files):
        add(*case)
    return cases
