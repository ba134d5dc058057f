"""The model package: a versioned, checksummed, self-describing zip with a JSON manifest.

Layout (format_version 2, see manifest.py): ``manifest.json`` plus members, each listed in
the manifest with its sha256 and size. The user tower and ranker travel as a declared
spec (numbers and allow-listed names) and their weights, one ``.npy`` per tensor; the
catalogue as ``.npy`` arrays and JSON lists. Loading builds the models in code from the
spec and assigns weights checked for exact shape and dtype: nothing in a package is
executed or deserialized into objects, and nothing is allocated before the bytes that
justify it have been read and checked against PackageLimits.

Size and load time (TensorFlow already imported; untrained towers, D=64, id_dim 48, 20
categories, with ranker; format 1 and 2 loaded alternately in one process, 6 loads each,
on 2 cores shared with other work at load average ~12, so compare the pairs rather than
the absolute times): 10K items 4.75 MB in both formats, load median 814 ms (min 623)
format 1 vs 736 ms (min 392) format 2; 100K items 46.4 MB in both, 1725 ms (min 1470) vs
1530 ms (min 1062). Format 2 builds with zero initializers, which saves the random fill
of the id table that model_from_json paid. On an idle machine format 1 loaded in 68 ms
(10K) and 285 ms (100K).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from streamrec.model_package.errors import (
    ChecksumMismatchError,
    CorruptPackageError,
    EmbeddingDimensionError,
    FeatureSpecMismatchError,
    InvalidContentError,
    PackageError,
    PackageLimitError,
    UnexpectedMemberError,
)
from streamrec.model_package.manifest import (
    CATEGORIES,
    EMBEDDINGS,
    FORMAT_VERSION,
    ITEM_CATEGORIES,
    ITEM_DENSE,
    ITEM_IDS,
    MANIFEST,
    SUPPORTED_FORMAT_VERSIONS,
    TRANSITION_INDICES,
    TRANSITION_INDPTR,
    TRANSITION_WEIGHTS,
    Architecture,
    PackageManifest,
    parse_manifest,
    weight_members,
)
from streamrec.model_package.package_limits import DEFAULT_LIMITS, PackageLimits
from streamrec.model_package.ranker_net import build_ranker_from_spec, ranker_spec
from streamrec.model_package.safe_npy import F32, I32, npy_bytes, read_names, read_npy
from streamrec.model_package.safe_zip import SafeZip
from streamrec.model_package.user_tower import build_user_tower, user_tower_spec
from streamrec.model_package.vectorizer import ACTIVITY_WIDTH, FeatureVectorizer
from streamrec.scoring.transitions import ItemTransitions
from streamrec.state.features import RECENT_ITEMS_CAP, FeatureSpec

T = TypeVar("T")

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_VERSIONS",
    "LoadedModel",
    "ModelArtifacts",
    "PackageLimits",
    "PackageManifest",
    "build_package",
    "load_package",
    "package_sha256",
    "read_manifest",
    "write_container",
]


@dataclass
class ModelArtifacts:
    """Everything training produces that a package carries."""

    feature_spec: FeatureSpec
    user_tower: Any
    """Built by two_tower.build_user_tower (its spec is read back from the layers)."""
    ranker: Any | None
    """Built by ranker.build_ranker_from_spec, or None."""
    item_ids: list[str]
    categories: list[str]
    item_embeddings: np.ndarray
    """float32 [N, D], row i is item_ids[i]."""
    item_categories: np.ndarray
    """int32 [N], 1-based index into categories; 0 = unknown."""
    item_dense: np.ndarray
    """float32 [N, F] item features for the ranker (log popularity)."""
    params: dict[str, Any] = field(default_factory=dict)
    transitions: ItemTransitions | None = None
    """What users engage with after each item (scoring.transitions), or None."""


def build_package(
    artifacts: ModelArtifacts,
    model_name: str,
    version: str,
    metrics: dict[str, float],
    created_ms: int | None = None,
) -> bytes:
    """Serialize a package; the result is what ``load_package`` reads."""
    user_spec = user_tower_spec(artifacts.user_tower)
    rank_spec = None if artifacts.ranker is None else ranker_spec(artifacts.ranker)
    files: dict[str, bytes] = {
        ITEM_IDS: json.dumps(list(artifacts.item_ids)).encode(),
        CATEGORIES: json.dumps(list(artifacts.categories)).encode(),
        EMBEDDINGS: npy_bytes(artifacts.item_embeddings, F32),
        ITEM_CATEGORIES: npy_bytes(artifacts.item_categories, I32),
        ITEM_DENSE: npy_bytes(artifacts.item_dense, F32),
    }
    transitions = artifacts.transitions
    if transitions is not None:
        files[TRANSITION_INDPTR] = npy_bytes(transitions.indptr, I32)
        files[TRANSITION_INDICES] = npy_bytes(transitions.indices, I32)
        files[TRANSITION_WEIGHTS] = npy_bytes(transitions.weights, F32)
    for part, keras_model in (("user_tower", artifacts.user_tower), ("ranker", artifacts.ranker)):
        if keras_model is not None:
            weights = keras_model.get_weights()
            names = weight_members(part, len(weights))
            files.update((n, npy_bytes(w, F32)) for n, w in zip(names, weights, strict=True))
    manifest = PackageManifest(
        format_version=FORMAT_VERSION,
        model_name=model_name,
        version=str(version),
        created_ms=int(time.time() * 1000) if created_ms is None else created_ms,
        feature_spec=artifacts.feature_spec,
        # A metric over no users (tiny data) is NaN: it says nothing and JSON cannot hold it.
        metrics={k: float(v) for k, v in metrics.items() if math.isfinite(float(v))},
        embedding_dim=int(artifacts.item_embeddings.shape[1]),
        n_items=len(artifacts.item_ids),
        n_categories=len(artifacts.categories),
        item_dense_width=int(artifacts.item_dense.shape[1]),
        architecture=Architecture(user_spec, rank_spec),
        params=_finite_or_none(artifacts.params),
        artifacts={
            n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()
        },
        transition_count=None if transitions is None else transitions.count,
    )
    return write_container(manifest.to_dict(), files)


def write_container(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """Zip the manifest (first, so readers find it fast) and the member files."""
    # allow_nan=False: a NaN metric or loss fails here, not in every job that loads it.
    text = json.dumps(manifest, sort_keys=True, allow_nan=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(MANIFEST, text, zipfile.ZIP_DEFLATED)
        for name, data in files.items():
            # Float arrays barely compress; storing them keeps load time down.
            method = zipfile.ZIP_STORED if name.endswith(".npy") else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, method)
    return buf.getvalue()


def read_manifest(package: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> PackageManifest:
    """Read and check only the manifest (cheap; used by promote, publish and the CLI)."""
    return _guarded(lambda: _read_manifest(package, limits))


@dataclass(eq=False)
class LoadedModel:
    """A verified package, ready for streamrec.scoring. One instance serves one model version."""

    manifest: PackageManifest
    user_tower: Any
    ranker: Any | None
    vectorizer: FeatureVectorizer
    item_embeddings: np.ndarray
    item_categories: np.ndarray
    item_dense: np.ndarray
    transitions: ItemTransitions | None = None
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """Derived data built on first use (retrieval index, rule masks); dies with the version."""

    @property
    def model_name(self) -> str:
        return self.manifest.model_name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def item_ids(self) -> tuple[str, ...]:
        return self.vectorizer.item_ids


def load_package(
    package: bytes,
    expected_feature_spec: FeatureSpec,
    expected_sha256: str | None = None,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> LoadedModel:
    """Verify and load a package, or raise a PackageError subclass naming the problem.

    Whatever ``package`` holds, only PackageError subclasses come out: an unexpected
    failure inside loading becomes CorruptPackageError naming the exception type, so the
    job rejects the package and keeps serving the previous model. Checks, in order: size,
    ``expected_sha256`` (from the model reference), container and members, manifest,
    member digests, the job's feature spec, catalogue and weight arrays; then the models
    are built from the declared spec and the weights assigned.
    """
    return _guarded(lambda: _load(package, expected_feature_spec, expected_sha256, limits))


def _guarded(load: Callable[[], T]) -> T:
    try:
        return load()
    except PackageError:
        raise
    except Exception as ex:  # the catch-all of rule 5: a package never stops the job
        raise CorruptPackageError(
            f"package could not be loaded: {type(ex).__name__}: {str(ex)[:300]}"
        ) from ex


def _checked_size(package: Any, limits: PackageLimits) -> bytes:
    if not isinstance(package, bytes | bytearray | memoryview):
        raise CorruptPackageError(f"a package is bytes, got {type(package).__name__}")
    if len(package) > limits.max_package_bytes:
        raise PackageLimitError(
            f"package of {len(package)} bytes exceeds the limit {limits.max_package_bytes}"
        )
    return bytes(package)


def _read_manifest(package: bytes, limits: PackageLimits) -> PackageManifest:
    zf = SafeZip(_checked_size(package, limits), limits)
    try:
        return _manifest(zf, limits)
    finally:
        zf.close()


def _manifest(zf: SafeZip, limits: PackageLimits) -> PackageManifest:
    if MANIFEST not in zf.members:
        raise CorruptPackageError(f"package has no {MANIFEST}")
    return parse_manifest(zf.read(MANIFEST, limits.max_manifest_bytes), limits)


def package_sha256(package: bytes) -> str:
    """The digest a model reference names its package by."""
    return hashlib.sha256(package).hexdigest()


def _load(
    package: bytes,
    spec: FeatureSpec,
    expected_sha256: str | None,
    limits: PackageLimits,
) -> LoadedModel:
    package = _checked_size(package, limits)
    if expected_sha256 is not None:
        actual = package_sha256(package)
        if actual != expected_sha256:
            raise ChecksumMismatchError(
                f"package sha256 is {actual}, expected {str(expected_sha256)[:80]}"
            )
    zf = SafeZip(package, limits)
    try:
        manifest = _manifest(zf, limits)
        where = f"model {manifest.model_name} version {manifest.version}"
        files = _verified_members(zf, manifest, where)
    finally:
        zf.close()
    problems = manifest.feature_spec.unsupplied_by(spec)
    user = manifest.architecture.user_tower
    if (user.recent_items, user.activity_width) != (RECENT_ITEMS_CAP, ACTIVITY_WIDTH):
        problems.append(
            f"user tower reads {user.recent_items} recent items and activity width "
            f"{user.activity_width}; the job supplies {RECENT_ITEMS_CAP} and {ACTIVITY_WIDTH}"
        )
    if problems:
        raise FeatureSpecMismatchError(
            f"{where}: job cannot supply its features: {'; '.join(problems)}"
        )
    n, dim = manifest.n_items, manifest.embedding_dim
    item_ids = read_names(files[ITEM_IDS], ITEM_IDS, n, limits)
    categories = read_names(files[CATEGORIES], CATEGORIES, manifest.n_categories, limits)
    embeddings = read_npy(files[EMBEDDINGS], EMBEDDINGS, F32, (n, dim), EmbeddingDimensionError)
    item_categories = read_npy(files[ITEM_CATEGORIES], ITEM_CATEGORIES, I32, (n,))
    if item_categories.size and not (
        item_categories.min() >= 0 and item_categories.max() <= manifest.n_categories
    ):
        raise InvalidContentError(
            f"{where}: item category indices span [{item_categories.min()}, "
            f"{item_categories.max()}], valid is [0, {manifest.n_categories}]"
        )
    item_dense = read_npy(files[ITEM_DENSE], ITEM_DENSE, F32, (n, manifest.item_dense_width))
    transitions = _transitions(files, manifest, where)
    weights = {
        name: read_npy(files.pop(name), name, F32, shape)
        for name, shape in manifest.architecture.member_shapes().items()
    }
    arch = manifest.architecture
    user_tower = _built(build_user_tower(arch.user_tower, zeros=True), "user_tower", weights)
    ranker = None
    if arch.ranker is not None:
        ranker = _built(build_ranker_from_spec(arch.ranker, zeros=True), "ranker", weights)
    return LoadedModel(
        manifest=manifest,
        user_tower=user_tower,
        ranker=ranker,
        vectorizer=FeatureVectorizer(item_ids, categories),
        item_embeddings=embeddings,
        item_categories=item_categories,
        item_dense=item_dense,
        transitions=transitions,
    )


def _transitions(
    files: dict[str, bytes], manifest: PackageManifest, where: str
) -> ItemTransitions | None:
    count = manifest.transition_count
    if count is None:
        return None
    n = manifest.n_items
    transitions = ItemTransitions(
        read_npy(files[TRANSITION_INDPTR], TRANSITION_INDPTR, I32, (n + 1,)),
        read_npy(files[TRANSITION_INDICES], TRANSITION_INDICES, I32, (count,)),
        read_npy(files[TRANSITION_WEIGHTS], TRANSITION_WEIGHTS, F32, (count,)),
    )
    problem = transitions.problem(n)
    if problem is not None:
        raise InvalidContentError(f"{where}: item transitions: {problem}")
    return transitions


def _verified_members(zf: SafeZip, manifest: PackageManifest, where: str) -> dict[str, bytes]:
    unknown = sorted(set(zf.members) - {MANIFEST, *manifest.artifacts})
    if unknown:
        raise UnexpectedMemberError(f"{where}: members {unknown[:5]} are not in the manifest")
    files: dict[str, bytes] = {}
    for name, info in manifest.artifacts.items():
        member = zf.members.get(name)
        if member is None:
            raise CorruptPackageError(f"{where}: member {name} listed in manifest is missing")
        if member.file_size != info["size"]:
            raise ChecksumMismatchError(
                f"{where}: member {name} has {member.file_size} bytes, manifest says {info['size']}"
            )
        data = zf.read(name)
        digest = hashlib.sha256(data).hexdigest()
        if digest != info["sha256"]:
            raise ChecksumMismatchError(
                f"{where}: member {name} sha256 is {digest}, manifest says {info['sha256']}"
            )
        files[name] = data
    return files


def _built(model: Any, part: str, weights: dict[str, np.ndarray]) -> Any:
    """Assign ``part``'s checked weights to a model just built from its spec."""
    arrays = [weights[n] for n in weight_members(part, len(model.weights))]
    if [tuple(w.shape) for w in model.weights] != [a.shape for a in arrays]:
        # The spec's weight_shapes and the builder disagree: a bug here, not in the package.
        raise CorruptPackageError(f"{part} built from its spec has unexpected weight shapes")
    model.set_weights(arrays)
    return model


def _finite_or_none(value: Any) -> Any:
    """``value`` with NaN/inf floats as None: training logs such values (a loss over an
    empty split), and the manifest is strict JSON, which cannot hold them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value
