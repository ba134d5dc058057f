"""Bad item-transition rows (scoring.transitions) in an otherwise valid package.

``transition_cases`` first gives the valid package's manifest and members transition rows
(item 0 leads to items 1 and 2), then damages them one way per case; the package as a
whole stays consistent otherwise, digests included, so the transition checks are what
rejects each one.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np

INDPTR = "transitions_indptr.npy"
INDICES = "transitions_indices.npy"
WEIGHTS = "transitions_weights.npy"


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _container(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    from tests.corpus.packages import repack

    table = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in files.items()}
    return repack({**manifest, "artifacts": table}, files, rehash=False)


def transition_cases(
    manifest: dict[str, Any], files: dict[str, bytes]
) -> list[tuple[str, bytes, str, str]]:
    """(name, package, expected error, description) per kind of bad transition rows."""
    n = manifest["n_items"]
    indptr = np.array([0] + [2] * n, dtype=np.int32)
    indices = np.array([1, 2], dtype=np.int32)
    weights = np.array([0.5, 0.25], dtype=np.float32)

    def package(
        ptr: np.ndarray = indptr,
        idx: np.ndarray = indices,
        w: np.ndarray = weights,
        count: Any = 2,
        blend: dict[str, float] | None = None,
        members: bool = True,
    ) -> bytes:
        edited = json.loads(json.dumps(manifest))
        if count is not None:
            edited["transition_count"] = count
        if blend is not None:
            edited["feature_spec"]["scoring"] = {
                "seen_filter": "engaged",
                "reengage": False,
                "blend": blend,
            }
        rows = {INDPTR: _npy(ptr), INDICES: _npy(idx), WEIGHTS: _npy(w)} if members else {}
        return _container(edited, {**files, **rows})

    backwards = indptr.copy()
    backwards[1:3] = [2, 1]
    return [
        (
            "transitions_index_out_of_range",
            package(idx=np.array([1, n], np.int32)),
            "InvalidContentError",
            "a transition to row n_items, past the catalogue",
        ),
        (
            "transitions_weight_nan",
            package(w=np.array([0.5, np.nan], np.float32)),
            "InvalidContentError",
            "a NaN transition weight",
        ),
        (
            "transitions_indptr_decreasing",
            package(ptr=backwards),
            "InvalidContentError",
            "row offsets that go backwards",
        ),
        (
            "transitions_count_mismatch",
            package(count=3),
            "InvalidContentError",
            "transition_count 3 for 2 stored entries",
        ),
        (
            "transitions_count_huge",
            package(count=n * 10_000),
            "InvalidManifestError",
            "transition_count of 10,000 per item (cap 256)",
        ),
        (
            "transitions_unlisted",
            package(count=None),
            "InvalidManifestError",
            "transition members without transition_count in the manifest",
        ),
        (
            "transitions_weighed_but_absent",
            package(count=None, blend={"retrieval": 1.0, "transition": 1.0}, members=False),
            "InvalidManifestError",
            "a blend weighing transitions in a package that has none",
        ),
    ]
