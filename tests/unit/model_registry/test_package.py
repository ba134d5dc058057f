import dataclasses
import io
import json
import time
import zipfile

import numpy as np
import pytest

from streamrec.model_registry.errors import (
    ChecksumMismatchError,
    CorruptPackageError,
    EmbeddingDimensionError,
    FeatureSpecMismatchError,
    UnsupportedFormatError,
)
from streamrec.model_registry.package import (
    build_package,
    load_package,
    package_sha256,
    read_manifest,
    write_container,
)
from streamrec.model_registry.train import TrainResult
from streamrec.state.features import default_spec


def _rewrite(package: bytes, change: dict[str, bytes], manifest_edit=None) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    if manifest_edit:
        manifest_edit(manifest)
    files.update(change)
    return write_container(manifest, files)


def test_round_trip_is_self_describing(package_bytes: bytes, trained: TrainResult) -> None:
    started = time.perf_counter()
    model = load_package(
        package_bytes, default_spec(), expected_sha256=package_sha256(package_bytes)
    )
    assert time.perf_counter() - started < 10.0
    m = model.manifest
    assert (m.format_version, m.model_name, m.version, m.created_ms) == (1, "test-model", "1", 1)
    assert m.feature_spec == default_spec()
    assert m.metrics["recall_at_20"] == pytest.approx(trained.metrics["recall_at_20"])
    np.testing.assert_array_equal(model.item_embeddings, trained.artifacts.item_embeddings)
    assert model.ranker is not None and list(model.item_ids) == trained.artifacts.item_ids
    assert read_manifest(package_bytes) == m


def test_corrupt_bytes_rejected(package_bytes: bytes) -> None:
    with pytest.raises(CorruptPackageError, match="not a model package"):
        load_package(b"\x00garbage" * 100, default_spec())
    with pytest.raises(CorruptPackageError):
        load_package(package_bytes[: len(package_bytes) // 2], default_spec())


def test_flipped_byte_inside_artifact_rejected(package_bytes: bytes) -> None:
    data = bytearray(package_bytes)
    start = package_bytes.index(b"\x93NUMPY")  # first stored .npy payload
    data[start + 200] ^= 0xFF
    with pytest.raises(ChecksumMismatchError):
        load_package(bytes(data), default_spec())


def test_wrong_artifact_checksum_rejected(package_bytes: bytes) -> None:
    model = load_package(package_bytes, default_spec())
    buf = io.BytesIO()
    np.save(buf, model.item_embeddings * 2)
    tampered = _rewrite(package_bytes, {"item_embeddings.npy": buf.getvalue()})
    with pytest.raises(ChecksumMismatchError, match=r"item_embeddings\.npy sha256"):
        load_package(tampered, default_spec())


def test_wrong_package_checksum_rejected(package_bytes: bytes) -> None:
    with pytest.raises(ChecksumMismatchError, match="package sha256"):
        load_package(package_bytes, default_spec(), expected_sha256="0" * 64)


def test_unknown_format_version_rejected(package_bytes: bytes) -> None:
    future = _rewrite(package_bytes, {}, lambda m: m.update(format_version=99))
    with pytest.raises(UnsupportedFormatError, match="format_version 99"):
        load_package(future, default_spec())


def test_feature_spec_job_cannot_supply_rejected(package_bytes: bytes) -> None:
    job_spec = dataclasses.replace(default_spec(), fields=default_spec().fields[:3])
    with pytest.raises(FeatureSpecMismatchError, match="last_seen_ts"):
        load_package(package_bytes, job_spec)
    with pytest.raises(FeatureSpecMismatchError, match="half_life_ms"):
        load_package(package_bytes, default_spec(half_life_ms=1))


def test_user_tower_and_item_embedding_dimension_mismatch_rejected(trained: TrainResult) -> None:
    art = trained.artifacts
    wider = dataclasses.replace(art, item_embeddings=np.zeros((len(art.item_ids), 8), np.float32))
    with pytest.raises(EmbeddingDimensionError, match="user tower outputs dimension 16"):
        load_package(build_package(wider, "m", "2", {}), default_spec())


def test_embedding_shape_disagreeing_with_manifest_rejected(package_bytes: bytes) -> None:
    claims_more = _rewrite(
        package_bytes, {}, lambda m: m.update(embedding_dim=m["embedding_dim"] + 1)
    )
    with pytest.raises(EmbeddingDimensionError, match="manifest says"):
        load_package(claims_more, default_spec())


def test_missing_artifact_rejected(package_bytes: bytes) -> None:
    def drop(m: dict) -> None:
        m["artifacts"]["extra.npy"] = {"sha256": "0" * 64, "size": 1}

    with pytest.raises(CorruptPackageError, match=r"extra\.npy"):
        load_package(_rewrite(package_bytes, {}, drop), default_spec())
