from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streamrec.model_package.package import build_package
from streamrec.model_package.package_limits import DEFAULT_LIMITS
from streamrec.model_package.reference import ModelReference
from streamrec.model_package.signing import public_key_base64, sign
from streamrec.model_registry.artifact_store import FileArtifactStore
from streamrec.model_registry.publisher import reference_for
from streamrec.model_registry.train import TrainResult
from streamrec.scoring.warm import InProcessLoader
from streamrec.state.features import default_spec
from streamrec.udfs.model_intake import IntakeSettings
from streamrec.udfs.serving import (
    LEGACY_PACKAGE_KEY,
    MODEL_KEY,
    RULES_KEY,
    Latin1Store,
    Serving,
)


def in_process() -> InProcessLoader:
    return InProcessLoader(default_spec(), DEFAULT_LIMITS)


class DictStore:
    """Broadcast state stand-in with the methods Flink's state offers."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def contains(self, key: str) -> bool:
        return key in self.data

    def put(self, key: str, value: bytes) -> None:
        self.data[key] = value

    def remove(self, key: str) -> None:
        del self.data[key]


class Publisher:
    """Stores packages as files and signs references to them, as `model publish` does."""

    def __init__(self, root: Path) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.store = FileArtifactStore(root / "artifacts")
        self.cache = root / "cache"

    def reference(self, package: bytes, version: str) -> ModelReference:
        return sign(reference_for(package, self.store.put(package), "m", version), self.key)

    def raw(self, package: bytes, version: str) -> bytes:
        return self.reference(package, version).to_bytes()

    def serving(self, max_bytes: int = 64 * 2**20) -> Serving:
        settings = IntakeSettings(
            public_keys_base64=(public_key_base64(self.key.public_key()),),
            cache_dir=str(self.cache),
            max_artifact_bytes=max_bytes,
        )
        return Serving(default_spec(), in_process(), intake=settings)


@pytest.fixture
def pub(tmp_path: Path) -> Publisher:
    return Publisher(tmp_path)


@pytest.fixture(scope="module")
def version_2(trained: TrainResult) -> bytes:
    return build_package(trained.artifacts, "test-model", "2", trained.metrics, created_ms=2)


RULES = b'{"version": "r1", "exclude_items": ["x"]}'


def serving_with_v1(pub: Publisher, package_bytes: bytes) -> tuple[Serving, DictStore]:
    serving, store = pub.serving(), DictStore()
    assert serving.handle("model", pub.raw(package_bytes, "1"), store).accepted
    assert serving.handle("rules", RULES, store).accepted
    return serving, store


def test_a_signed_reference_is_served_and_state_holds_only_the_reference(
    pub: Publisher, package_bytes: bytes
) -> None:
    serving, store = pub.serving(), DictStore()
    store.put(LEGACY_PACKAGE_KEY, package_bytes)  # what older versions kept in state
    outcome = serving.handle("model", pub.raw(package_bytes, "1"), store)
    assert outcome.accepted and outcome.version == "1", outcome.message
    assert "now serving" in outcome.message and "after it was published" in outcome.message
    assert serving.model is not None and serving.model.version == "1"
    assert set(store.data) == {MODEL_KEY}
    assert len(store.data[MODEL_KEY]) < 1024
    assert serving.category_of


def test_restore_serves_what_broadcast_state_holds(pub: Publisher, package_bytes: bytes) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    restored = pub.serving()
    assert restored.needs_restore
    restored.restore(store)
    assert not restored.needs_restore
    assert restored.model is not None and restored.model.version == "1"
    assert restored.rules is not None and restored.rules.version == "r1"


def test_restore_reads_the_store_when_the_cache_is_gone(
    pub: Publisher, package_bytes: bytes
) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    for cached in pub.cache.iterdir():
        cached.unlink()
    restored = pub.serving()
    restored.restore(store)
    assert restored.model is not None and restored.model.version == "1"


# Restore first: after a restart, whatever broadcast record comes first, the model and
# rules in state are served before it is handled.


def test_rules_first_after_a_restore(pub: Publisher, package_bytes: bytes) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    restarted = pub.serving()
    outcome = restarted.handle("rules", b'{"version": "r2"}', store)
    assert outcome.accepted and restarted.rules is not None and restarted.rules.version == "r2"
    assert restarted.model is not None and restarted.model.version == "1"


def test_bad_rules_first_after_a_restore(pub: Publisher, package_bytes: bytes) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    restarted = pub.serving()
    assert not restarted.handle("rules", b'{"version": "r2", "boost": 1}', store).accepted
    assert restarted.rules is not None and restarted.rules.version == "r1"
    assert restarted.model is not None and restarted.model.version == "1"


def test_reference_first_after_a_restore(
    pub: Publisher, package_bytes: bytes, version_2: bytes
) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    restarted = pub.serving()
    assert restarted.handle("model", pub.raw(version_2, "2"), store).accepted
    assert restarted.model is not None and restarted.model.version == "2"
    assert restarted.rules is not None and restarted.rules.version == "r1"
    # A bad reference first: the restored model keeps serving.
    again = pub.serving()
    assert not again.handle("model", b"{}", store).accepted
    assert again.model is not None and again.model.version == "2"


def test_stray_chunk_first_after_a_restore(pub: Publisher, package_bytes: bytes) -> None:
    _, store = serving_with_v1(pub, package_bytes)
    held = dict(store.data)
    restarted = pub.serving()
    stray = b"SRPC\x00\x00\x00\x02{}"  # the old inline format's chunk magic, empty header
    outcome = restarted.handle("model", stray, store)
    assert not outcome.accepted and outcome.reason == "bad_reference"
    assert restarted.model is not None and restarted.model.version == "1"
    assert restarted.rules is not None and restarted.rules.version == "r1"
    assert store.data == held


def rejections(pub: Publisher, package_bytes: bytes, version_2: bytes, tmp: Path) -> dict:
    good = pub.reference(version_2, "2")
    stranger = Publisher(tmp / "stranger")
    moved = pub.reference(version_2, "3")
    Path(moved.uri[len("file://") :]).unlink()
    swapped = pub.reference(b"other bytes", "4")
    Path(swapped.uri[len("file://") :]).write_bytes(b"other bytez")
    return {
        "empty": (b"", "bad_reference"),
        "none": (None, "bad_reference"),
        "not json": (b"\x00\xff garbage", "bad_reference"),
        "json list": (b"[]", "bad_reference"),
        "rules sent to models": (RULES, "bad_reference"),
        "unsigned": (dataclasses.replace(good, signature="").to_bytes(), "bad_signature"),
        "tampered size": (dataclasses.replace(good, size=good.size + 1).to_bytes(),
                          "bad_signature"),
        "other publisher": (stranger.raw(version_2, "2"), "bad_signature"),
        "artifact missing": (moved.to_bytes(), "artifact_unavailable"),
        "artifact replaced": (swapped.to_bytes(), "artifact_digest_mismatch"),
        "not a package": (pub.raw(b"signed, stored, but not a zip", "5"), "bad_package"),
        "truncated package": (pub.raw(package_bytes[:-100], "6"), "bad_package"),
    }  # fmt: skip


def test_every_bad_reference_is_rejected_and_the_old_model_serves(
    pub: Publisher, package_bytes: bytes, version_2: bytes, tmp_path: Path
) -> None:
    serving, store = serving_with_v1(pub, package_bytes)
    held = dict(store.data)
    for name, (raw, reason) in rejections(pub, package_bytes, version_2, tmp_path).items():
        outcome = serving.handle("model", raw, store)
        assert not outcome.accepted, name
        assert outcome.reason == reason, (name, outcome)
        assert serving.model is not None and serving.model.version == "1", name
        assert store.data == held, name


def test_oversize_artifact_is_rejected(pub: Publisher, package_bytes: bytes) -> None:
    serving, store = pub.serving(max_bytes=len(package_bytes) - 1), DictStore()
    outcome = serving.handle("model", pub.raw(package_bytes, "1"), store)
    assert not outcome.accepted and outcome.reason == "artifact_too_large"
    assert serving.model is None and store.data == {}


def test_without_a_public_key_every_model_is_rejected(pub: Publisher, package_bytes) -> None:
    serving = Serving(default_spec(), in_process(), intake=IntakeSettings(cache_dir=str(pub.cache)))
    outcome = serving.handle("model", pub.raw(package_bytes, "1"), DictStore())
    assert not outcome.accepted and "no publisher public key" in outcome.message


def test_unexpected_exceptions_become_rejections(
    pub: Publisher, package_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving, store = serving_with_v1(pub, package_bytes)

    def explode(*args: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(serving.intake, "fetch", explode)
    monkeypatch.setattr("streamrec.udfs.serving.parse_rules", explode)
    for kind in ("model", "rules"):
        outcome = serving.handle(kind, b'{"version": "r9"}', store)
        assert not outcome.accepted and outcome.reason == "internal_error"
        assert "RecursionError" in outcome.message
    assert serving.model is not None and serving.model.version == "1"
    assert serving.rules is not None and serving.rules.version == "r1"


def test_restore_never_raises(pub: Publisher, package_bytes: bytes) -> None:
    store = DictStore()
    store.put(MODEL_KEY, b"not a reference")
    store.put(RULES_KEY, b"[[[")
    store.put(LEGACY_PACKAGE_KEY, package_bytes)
    serving = pub.serving()
    serving.restore(store)
    assert serving.model is None and serving.rules is None and not serving.needs_restore
    # A reference whose key the job no longer trusts: fallback, no exception.
    _, signed_store = serving_with_v1(Publisher(pub.cache.parent / "old"), package_bytes)
    rotated = pub.serving()
    rotated.restore(signed_store)
    assert rotated.model is None and rotated.rules is not None


def test_the_same_reference_again_is_not_reloaded(pub: Publisher, package_bytes: bytes) -> None:
    serving, store = pub.serving(), DictStore()
    raw = pub.raw(package_bytes, "1")
    assert serving.handle("model", raw, store).accepted
    model = serving.model
    outcome = serving.handle("model", raw, store)
    assert outcome.accepted and "already serving" in outcome.message and serving.model is model


def test_bad_rules_keep_the_previous_rules() -> None:
    serving, store = Serving(default_spec(), in_process()), DictStore()
    assert serving.handle("rules", json.dumps({"version": "r1"}).encode(), store).accepted
    outcome = serving.handle("rules", b'{"version": "r2", "boost": 1}', store)
    assert not outcome.accepted and "unknown rule fields" in outcome.message
    assert outcome.reason == "bad_rules"
    assert serving.rules is not None and serving.rules.version == "r1"
    assert json.loads(store.data[RULES_KEY])["version"] == "r1"
    assert not serving.handle("rules", b"", store).accepted


def test_latin1_store_round_trips_every_byte() -> None:
    inner = DictStore()
    store = Latin1Store(inner)
    store.put("k", bytes(range(256)))
    assert isinstance(inner.data["k"], str)
    assert store.get("k") == bytes(range(256))
    assert store.get("missing") is None
