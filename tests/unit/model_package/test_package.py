import dataclasses
import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

from streamrec.model_package.errors import (
    ChecksumMismatchError,
    CorruptPackageError,
    EmbeddingDimensionError,
    FeatureSpecMismatchError,
    InvalidContentError,
    InvalidManifestError,
    PackageError,
    PackageLimitError,
    UnsupportedFormatError,
)
from streamrec.model_package.package import (
    FORMAT_VERSION,
    PackageLimits,
    build_package,
    load_package,
    package_sha256,
    read_manifest,
    write_container,
)
from streamrec.model_package.ranker_net import RankerSpec, ranker_spec
from streamrec.model_package.safe_npy import I32, npy_bytes
from streamrec.model_package.user_tower import UserTowerSpec, user_tower_spec
from streamrec.model_registry.train import TrainResult
from streamrec.scoring.transitions import ItemTransitions
from streamrec.state.features import ScoringUse, default_spec, model_spec


def _rewrite(package: bytes, change: dict[str, bytes], manifest_edit=None) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files.pop("manifest.json"))
    if manifest_edit:
        manifest_edit(manifest)
    files.update(change)
    return write_container(manifest, files)


def test_round_trip_is_self_describing(package_bytes: bytes, trained: TrainResult) -> None:
    model = load_package(
        package_bytes, default_spec(), expected_sha256=package_sha256(package_bytes)
    )
    m = model.manifest
    assert (m.format_version, m.model_name, m.version, m.created_ms) == (2, "test-model", "1", 1)
    assert m.format_version == FORMAT_VERSION
    assert m.feature_spec == trained.artifacts.feature_spec  # scoring use included
    assert m.feature_spec.unsupplied_by(default_spec()) == []
    assert m.metrics["recall_at_20"] == pytest.approx(trained.metrics["recall_at_20"])
    np.testing.assert_array_equal(model.item_embeddings, trained.artifacts.item_embeddings)
    assert model.ranker is not None and list(model.item_ids) == trained.artifacts.item_ids
    assert read_manifest(package_bytes) == m


def test_loaded_models_compute_what_the_trained_ones_do(
    package_bytes: bytes, trained: TrainResult
) -> None:
    model = load_package(package_bytes, default_spec())
    rng = np.random.default_rng(0)
    for loaded, original in ((model.user_tower, trained.artifacts.user_tower),
                             (model.ranker, trained.artifacts.ranker)):  # fmt: skip
        inputs = {
            t.name: (
                rng.integers(0, 5, (8, *t.shape[1:])).astype("int32")
                if "int" in str(t.dtype)
                else rng.normal(size=(8, *t.shape[1:])).astype("float32")
            )
            for t in original.inputs
        }
        np.testing.assert_allclose(
            np.asarray(loaded(inputs, training=False)),
            np.asarray(original(inputs, training=False)),
            rtol=1e-5,
            atol=1e-6,
        )


def test_spec_round_trips_and_predicts_weight_shapes(trained: TrainResult) -> None:
    art = trained.artifacts
    user = user_tower_spec(art.user_tower)
    assert UserTowerSpec.from_dict(json.loads(json.dumps(user.to_dict()))) == user
    assert user.weight_shapes() == [w.shape for w in art.user_tower.get_weights()]
    ranker = ranker_spec(art.ranker)
    assert RankerSpec.from_dict(json.loads(json.dumps(ranker.to_dict()))) == ranker
    assert ranker.weight_shapes() == [w.shape for w in art.ranker.get_weights()]


def test_nothing_is_deserialized(package_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the loader deserialized an architecture")

    monkeypatch.setattr(keras.models, "model_from_json", refuse)
    monkeypatch.setattr(keras.saving, "deserialize_keras_object", refuse)
    monkeypatch.setattr(np, "load", refuse)
    assert load_package(package_bytes, default_spec()).ranker is not None


def test_corrupt_bytes_rejected(package_bytes: bytes) -> None:
    with pytest.raises(CorruptPackageError, match="not a model package"):
        load_package(b"\x00garbage" * 100, default_spec())
    with pytest.raises(CorruptPackageError):
        load_package(package_bytes[: len(package_bytes) // 2], default_spec())
    with pytest.raises(CorruptPackageError):
        load_package(None, default_spec())  # type: ignore[arg-type]


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
    with pytest.raises(ChecksumMismatchError):
        load_package(package_bytes, default_spec(), expected_sha256="")


def test_format_1_is_refused_with_a_way_forward(package_bytes: bytes) -> None:
    old = _rewrite(package_bytes, {}, lambda m: m.update(format_version=1))
    with pytest.raises(UnsupportedFormatError, match=r"format_version 1 .*retrain"):
        load_package(old, default_spec())
    with pytest.raises(UnsupportedFormatError, match="format_version 99"):
        read_manifest(_rewrite(package_bytes, {}, lambda m: m.update(format_version=99)))


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


def test_manifest_listing_a_member_beyond_the_format_rejected(package_bytes: bytes) -> None:
    def add(m: dict) -> None:
        m["artifacts"]["extra.npy"] = {"sha256": "0" * 64, "size": 1}

    with pytest.raises(InvalidManifestError, match=r"extra\.npy"):
        load_package(_rewrite(package_bytes, {}, add), default_spec())


def test_limits_are_configurable(package_bytes: bytes) -> None:
    n_items = read_manifest(package_bytes).n_items
    for limits, match in [
        (PackageLimits(max_package_bytes=len(package_bytes) - 1), "package of"),
        (PackageLimits(max_members=5), "members"),
        (PackageLimits(max_items=n_items - 1), "n_items"),
        (PackageLimits(max_decompressed_bytes=len(package_bytes) // 2), "decompressed"),
        (PackageLimits(max_member_bytes=1000), "limit"),
    ]:
        with pytest.raises(PackageLimitError, match=match):
            load_package(package_bytes, default_spec(), limits=limits)
    with pytest.raises(ValueError, match="max_items"):
        PackageLimits(max_items=0)


def test_build_leaves_out_what_strict_json_cannot_hold(trained: TrainResult) -> None:
    """A NaN metric (evaluated over no users) is dropped, a NaN loss is null: the package
    still builds and loads, and the loader never sees a non-finite number."""
    artifacts = dataclasses.replace(trained.artifacts, params={"train_loss": [float("nan"), 1.0]})
    package = build_package(artifacts, "m", "1", {"recall_at_20": float("nan"), "ndcg": 0.5})
    manifest = read_manifest(package)
    assert manifest.metrics == {"ndcg": 0.5}
    assert manifest.params["train_loss"] == [None, 1.0]


def test_unexpected_failure_inside_loading_is_a_package_error(
    package_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamrec.model_package.package as package

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("surprise")

    monkeypatch.setattr(package, "FeatureVectorizer", boom)
    with pytest.raises(CorruptPackageError, match="RuntimeError: surprise"):
        load_package(package_bytes, default_spec())
    monkeypatch.setattr(package, "parse_manifest", boom)
    with pytest.raises(PackageError, match="RuntimeError"):
        read_manifest(package_bytes)


def _with_transitions(trained: TrainResult) -> bytes:
    """The trained package plus transition rows: item 0 leads to items 1 and 2."""
    n = len(trained.artifacts.item_ids)
    indptr = np.array([0] + [2] * n, dtype=np.int32)
    rows = ItemTransitions(indptr, np.array([1, 2], np.int32), np.array([0.5, 0.25], np.float32))
    return build_package(dataclasses.replace(trained.artifacts, transitions=rows), "m", "1", {})


def test_transition_rows_round_trip(trained: TrainResult) -> None:
    package = _with_transitions(trained)
    model = load_package(package, default_spec())
    assert model.manifest.transition_count == 2
    assert model.transitions is not None
    np.testing.assert_array_equal(model.transitions.indices, [1, 2])
    np.testing.assert_array_equal(model.transitions.weights, [0.5, 0.25])
    # A package without them (every earlier one) loads with none.
    assert (
        load_package(build_package(trained.artifacts, "m", "1", {}), default_spec()).transitions
        is None
    )


def test_transition_rows_outside_the_catalogue_rejected(trained: TrainResult) -> None:
    n = len(trained.artifacts.item_ids)
    bad = npy_bytes(np.array([1, n], np.int32), I32)

    def digest(m: dict) -> None:
        m["artifacts"]["transitions_indices.npy"] = {
            "sha256": hashlib.sha256(bad).hexdigest(),
            "size": len(bad),
        }

    tampered = _rewrite(_with_transitions(trained), {"transitions_indices.npy": bad}, digest)
    with pytest.raises(InvalidContentError, match=rf"indices must lie in \[0, {n}\)"):
        load_package(tampered, default_spec())


def test_a_blend_weighing_transitions_needs_the_rows(trained: TrainResult) -> None:
    use = ScoringUse("engaged", False, (("retrieval", 1.0), ("transition", 1.0)))
    spec = model_spec(trained.artifacts.feature_spec.half_life_ms, use)
    without = dataclasses.replace(trained.artifacts, feature_spec=spec, ranker=None)
    with pytest.raises(InvalidManifestError, match="no transitions"):
        load_package(build_package(without, "m", "1", {}), default_spec())
