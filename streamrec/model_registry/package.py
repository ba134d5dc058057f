"""The model package: a versioned, checksummed, self-describing zip with a JSON manifest.

Layout (format_version 1): ``manifest.json`` plus artifacts, each listed in the manifest
with its sha256 and size. Keras models travel as architecture JSON + ``.npz`` weights
(built-in layers only), arrays as ``.npy``; nothing is pickled, so loading a package
from the network runs no code from it.

Measured on 2 cores (TensorFlow already imported): the default generated model (2K
items, D=64, with ranker) is 1.04 MB and loads in 63 ms; the same towers with a 100K-item
catalogue are 27.5 MB (30 chunks of 900 KiB) and load in 0.32 s.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamrec.model_registry.chunks import chunk, package_sha256, reassemble
from streamrec.model_registry.errors import (
    ChecksumMismatchError,
    CorruptPackageError,
    EmbeddingDimensionError,
    FeatureSpecMismatchError,
    UnsupportedFormatError,
)
from streamrec.model_registry.vectorizer import FeatureVectorizer
from streamrec.state.features import FeatureSpec

__all__ = [
    "FORMAT_VERSION",
    "LoadedModel",
    "ModelArtifacts",
    "PackageManifest",
    "build_package",
    "chunk",
    "load_package",
    "package_sha256",
    "read_manifest",
    "reassemble",
]

FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = frozenset({1})
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PackageManifest:
    """What a package says about itself."""

    format_version: int
    model_name: str
    version: str
    created_ms: int
    feature_spec: FeatureSpec
    metrics: dict[str, float]
    embedding_dim: int
    n_items: int
    params: dict[str, Any]
    artifacts: dict[str, dict[str, Any]]
    """artifact name -> {"sha256": hex, "size": bytes}."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model_name": self.model_name,
            "version": self.version,
            "created_ms": self.created_ms,
            "feature_spec": self.feature_spec.to_dict(),
            "metrics": self.metrics,
            "embedding_dim": self.embedding_dim,
            "n_items": self.n_items,
            "params": self.params,
            "artifacts": self.artifacts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PackageManifest:
        return cls(
            format_version=int(data["format_version"]),
            model_name=str(data["model_name"]),
            version=str(data["version"]),
            created_ms=int(data["created_ms"]),
            feature_spec=FeatureSpec.from_dict(data["feature_spec"]),
            metrics={str(k): float(v) for k, v in data["metrics"].items()},
            embedding_dim=int(data["embedding_dim"]),
            n_items=int(data["n_items"]),
            params=dict(data.get("params") or {}),
            artifacts={str(k): dict(v) for k, v in data["artifacts"].items()},
        )


@dataclass
class ModelArtifacts:
    """Everything training produces that a package carries."""

    feature_spec: FeatureSpec
    user_tower: Any
    ranker: Any | None
    item_ids: list[str]
    categories: list[str]
    item_embeddings: np.ndarray
    """float32 [N, D], row i is item_ids[i]."""
    item_categories: np.ndarray
    """int32 [N], 1-based index into categories; 0 = unknown."""
    item_dense: np.ndarray
    """float32 [N, F] item features for the ranker (log popularity)."""
    params: dict[str, Any] = field(default_factory=dict)


def build_package(
    artifacts: ModelArtifacts,
    model_name: str,
    version: str,
    metrics: dict[str, float],
    created_ms: int | None = None,
) -> bytes:
    """Serialize a package; the result is what ``load_package`` reads."""
    files: dict[str, bytes] = {
        "user_tower.json": artifacts.user_tower.to_json().encode(),
        "user_tower.weights.npz": _weights_bytes(artifacts.user_tower),
        "item_ids.json": json.dumps(artifacts.item_ids).encode(),
        "categories.json": json.dumps(artifacts.categories).encode(),
        "item_embeddings.npy": _npy(artifacts.item_embeddings.astype(np.float32)),
        "item_categories.npy": _npy(artifacts.item_categories.astype(np.int32)),
        "item_dense.npy": _npy(artifacts.item_dense.astype(np.float32)),
    }
    if artifacts.ranker is not None:
        files["ranker.json"] = artifacts.ranker.to_json().encode()
        files["ranker.weights.npz"] = _weights_bytes(artifacts.ranker)
    manifest = PackageManifest(
        format_version=FORMAT_VERSION,
        model_name=model_name,
        version=str(version),
        created_ms=int(time.time() * 1000) if created_ms is None else created_ms,
        feature_spec=artifacts.feature_spec,
        metrics={k: float(v) for k, v in metrics.items()},
        embedding_dim=int(artifacts.item_embeddings.shape[1]),
        n_items=len(artifacts.item_ids),
        params=artifacts.params,
        artifacts={
            n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)} for n, b in files.items()
        },
    )
    return write_container(manifest.to_dict(), files)


def write_container(manifest: dict[str, Any], files: dict[str, bytes]) -> bytes:
    """Zip the manifest (first, so readers find it fast) and the artifact files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, sort_keys=True), zipfile.ZIP_DEFLATED)
        for name, data in files.items():
            # Float arrays barely compress; storing them keeps load time down.
            method = zipfile.ZIP_STORED if name.endswith((".npy", ".npz")) else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, method)
    return buf.getvalue()


def read_manifest(package: bytes) -> PackageManifest:
    """Read and check only the manifest (cheap; used by promote and the CLI)."""
    with _open(package) as zf:
        return _manifest(zf)


@dataclass(eq=False)
class LoadedModel:
    """A verified package, ready for udfs.scoring. One instance serves one model version."""

    manifest: PackageManifest
    user_tower: Any
    ranker: Any | None
    vectorizer: FeatureVectorizer
    item_embeddings: np.ndarray
    item_categories: np.ndarray
    item_dense: np.ndarray
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

    def retriever(self, backend: str = "auto") -> Any:
        """The nearest-neighbour index over item embeddings, built on first use."""
        from streamrec.udfs.retrieval import build_retriever

        key = f"retriever:{backend}"
        if key not in self.cache:
            self.cache[key] = build_retriever(self.item_embeddings, backend)
        return self.cache[key]


def load_package(
    package: bytes,
    expected_feature_spec: FeatureSpec,
    expected_sha256: str | None = None,
) -> LoadedModel:
    """Verify and load a package, or raise a PackageError subclass naming the problem.

    Checks, in order: container readable, format version known, manifest sha256s match
    the artifacts, the job's feature spec supplies what the model needs, and the
    embedding dimensions agree. ``expected_sha256`` (from chunk headers) checks the
    whole package first.
    """
    if expected_sha256 is not None:
        actual = package_sha256(package)
        if actual != expected_sha256:
            raise ChecksumMismatchError(f"package sha256 is {actual}, expected {expected_sha256}")
    with _open(package) as zf:
        manifest = _manifest(zf)
        where = f"model {manifest.model_name} version {manifest.version}"
        files = _verified_files(zf, manifest, where)
    problems = manifest.feature_spec.unsupplied_by(expected_feature_spec)
    if problems:
        raise FeatureSpecMismatchError(
            f"{where}: job cannot supply its features: {'; '.join(problems)}"
        )
    try:
        item_ids = json.loads(files["item_ids.json"])
        categories = json.loads(files["categories.json"])
        embeddings = _load_npy(files["item_embeddings.npy"])
        item_categories = _load_npy(files["item_categories.npy"])
        item_dense = _load_npy(files["item_dense.npy"])
    except (ValueError, KeyError) as ex:
        raise CorruptPackageError(f"{where}: unreadable artifact: {ex}") from ex
    dim = manifest.embedding_dim
    if (
        embeddings.ndim != 2
        or embeddings.shape != (manifest.n_items, dim)
        or len(item_ids) != manifest.n_items
    ):
        raise EmbeddingDimensionError(
            f"{where}: item embeddings have shape {embeddings.shape} for {len(item_ids)} item ids, "
            f"manifest says ({manifest.n_items}, {dim})"
        )
    user_tower = _load_keras(files, "user_tower", where)
    out_dim = user_tower.output_shape[-1]
    if out_dim != dim:
        raise EmbeddingDimensionError(
            f"{where}: user tower outputs dimension {out_dim}, item embeddings have {dim}"
        )
    ranker = _load_keras(files, "ranker", where) if "ranker.json" in files else None
    return LoadedModel(
        manifest=manifest,
        user_tower=user_tower,
        ranker=ranker,
        vectorizer=FeatureVectorizer(item_ids, categories),
        item_embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
        item_categories=item_categories.astype(np.int32),
        item_dense=item_dense.astype(np.float32),
    )


def _open(package: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(package))
    except (zipfile.BadZipFile, ValueError, OSError) as ex:
        raise CorruptPackageError(
            f"not a model package container ({len(package)} bytes): {ex}"
        ) from ex


def _manifest(zf: zipfile.ZipFile) -> PackageManifest:
    try:
        raw = json.loads(zf.read(MANIFEST))
    except KeyError as ex:
        raise CorruptPackageError(f"package has no {MANIFEST}") from ex
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as ex:
        raise CorruptPackageError(f"{MANIFEST} is unreadable: {ex}") from ex
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnsupportedFormatError(
            f"package format_version {version!r} is not supported; this code reads "
            f"{sorted(SUPPORTED_FORMAT_VERSIONS)}"
        )
    try:
        return PackageManifest.from_dict(raw)
    except (KeyError, TypeError, ValueError) as ex:
        raise CorruptPackageError(f"{MANIFEST} lacks or garbles field {ex}") from ex


def _verified_files(zf: zipfile.ZipFile, manifest: PackageManifest, where: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name, info in manifest.artifacts.items():
        try:
            data = zf.read(name)
        except KeyError as ex:
            raise CorruptPackageError(
                f"{where}: artifact {name} listed in manifest is missing"
            ) from ex
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as ex:
            # zipfile's own CRC check lands here when bytes were altered in place.
            raise ChecksumMismatchError(f"{where}: artifact {name} is damaged: {ex}") from ex
        digest = hashlib.sha256(data).hexdigest()
        if digest != info.get("sha256"):
            raise ChecksumMismatchError(
                f"{where}: artifact {name} sha256 is {digest}, manifest says {info.get('sha256')}"
            )
        files[name] = data
    return files


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _weights_bytes(model: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *model.get_weights())
    return buf.getvalue()


def _load_keras(files: dict[str, bytes], name: str, where: str) -> Any:
    import keras

    try:
        model = keras.models.model_from_json(files[f"{name}.json"].decode())
        with np.load(io.BytesIO(files[f"{name}.weights.npz"]), allow_pickle=False) as npz:
            model.set_weights([npz[f"arr_{i}"] for i in range(len(npz.files))])
    except Exception as ex:  # Keras raises many types for a bad config; all mean "corrupt".
        raise CorruptPackageError(
            f"{where}: cannot rebuild {name}: {type(ex).__name__}: {ex}"
        ) from ex
    return model
