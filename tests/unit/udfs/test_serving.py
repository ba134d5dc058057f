from __future__ import annotations

import json

from streamrec.model_registry.chunks import Chunk, chunk
from streamrec.model_registry.package import build_package
from streamrec.model_registry.train import TrainResult
from streamrec.state.features import default_spec
from streamrec.udfs.serving import MODEL_KEY, RULES_KEY, Latin1Store, Serving


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


def chunks_of(package: bytes, version: str = "1") -> list[bytes]:
    return [c.to_bytes() for c in chunk(package, 40_000, model_name="m", version=version)]


def test_a_complete_package_is_served_and_its_chunks_are_dropped(package_bytes: bytes) -> None:
    serving, store = Serving(default_spec()), DictStore()
    pieces = chunks_of(package_bytes)
    assert len(pieces) > 1
    for piece in pieces[:-1]:
        assert serving.on_model_chunk(piece, store) is None
    outcome = serving.on_model_chunk(pieces[-1], store)
    assert outcome is not None and outcome.accepted and outcome.version == "1"
    assert serving.model is not None and serving.model.version == "1"
    assert set(store.data) == {MODEL_KEY}
    assert serving.category_of  # features can fold categories from now on


def test_chunks_in_state_survive_a_restart_between_them(package_bytes: bytes) -> None:
    store = DictStore()
    pieces = chunks_of(package_bytes)
    Serving(default_spec()).on_model_chunk(pieces[0], store)
    restarted = Serving(default_spec())
    restarted.restore(store)
    assert restarted.model is None
    for piece in pieces[1:]:
        outcome = restarted.on_model_chunk(piece, store)
    assert outcome is not None and outcome.accepted


def test_a_corrupt_package_is_rejected_and_the_old_model_keeps_serving(
    package_bytes: bytes,
) -> None:
    serving, store = Serving(default_spec()), DictStore()
    for piece in chunks_of(package_bytes, "1"):
        serving.on_model_chunk(piece, store)
    served = store.data[MODEL_KEY]
    pieces = [Chunk.from_bytes(p) for p in chunks_of(package_bytes, "2")]
    last = pieces[-1]
    broken = Chunk(last.model_name, "2", last.package_sha256, last.index, last.total,
                   last.data[:-1] + bytes([last.data[-1] ^ 1]))  # fmt: skip
    for piece in pieces[:-1]:
        serving.on_model_chunk(piece.to_bytes(), store)
    outcome = serving.on_model_chunk(broken.to_bytes(), store)
    assert outcome is not None and not outcome.accepted and "sha256" in outcome.message
    assert serving.model is not None and serving.model.version == "1"
    assert store.data == {MODEL_KEY: served}
    unreadable = serving.on_model_chunk(b"garbage", store)
    assert unreadable is not None and not unreadable.accepted


def test_a_new_package_supersedes_an_unfinished_one(
    package_bytes: bytes, trained: TrainResult
) -> None:
    serving, store = Serving(default_spec()), DictStore()
    old = chunks_of(package_bytes, "1")
    serving.on_model_chunk(old[0], store)
    version_2 = build_package(trained.artifacts, "test-model", "2", trained.metrics, created_ms=2)
    new = chunks_of(version_2, "2")
    serving.on_model_chunk(new[0], store)
    assert serving.on_model_chunk(old[1], store) is None  # stray: not the package assembling
    for piece in new[1:]:
        outcome = serving.on_model_chunk(piece, store)
    assert outcome is not None and outcome.accepted and outcome.version == "2"
    assert set(store.data) == {MODEL_KEY}


def test_restore_serves_what_broadcast_state_holds(package_bytes: bytes) -> None:
    store = DictStore()
    first = Serving(default_spec())
    for piece in chunks_of(package_bytes):
        first.on_model_chunk(piece, store)
    assert first.on_rules(b'{"version": "r1", "exclude_items": ["x"]}', store).accepted
    restored = Serving(default_spec())
    assert restored.needs_restore
    restored.restore(store)
    assert not restored.needs_restore
    assert restored.model is not None and restored.model.version == "1"
    assert restored.rules is not None and restored.rules.version == "r1"


def test_bad_rules_keep_the_previous_rules() -> None:
    serving, store = Serving(default_spec()), DictStore()
    assert serving.on_rules(json.dumps({"version": "r1"}).encode(), store).accepted
    outcome = serving.on_rules(b'{"version": "r2", "boost": 1}', store)
    assert not outcome.accepted and "unknown rule fields" in outcome.message
    assert serving.rules is not None and serving.rules.version == "r1"
    assert json.loads(store.data[RULES_KEY])["version"] == "r1"


def test_latin1_store_round_trips_every_byte() -> None:
    inner = DictStore()
    store = Latin1Store(inner)
    store.put("k", bytes(range(256)))
    assert isinstance(inner.data["k"], str)
    assert store.get("k") == bytes(range(256))
    assert store.get("missing") is None
