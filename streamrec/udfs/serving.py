"""What the scoring operator serves: the model version and rule set, kept as broadcast state.

Model packages and rule sets arrive as data on the ``models`` and ``rules`` topics and are
broadcast to every scoring subtask. Each message is verified before it replaces what is
serving; a bad one is rejected and the previous one keeps serving. Everything accepted is
written to broadcast state, so a job restored from a checkpoint or savepoint serves the
same model and rules without anything being re-published.

Broadcast state keys (values are raw bytes):

- ``chunk/<model>/<package sha256>/<index>``: chunks of a package still arriving. They
  are state too: a checkpoint may fall between two chunks of one package.
- ``assembling/<model>``: ``"<sha256> <total>"`` of the package whose chunks are arriving.
- ``model``: the complete package now serving.
- ``rules``: the rules message now serving.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from streamrec.contracts.errors import InvalidRulesError
from streamrec.contracts.rules import RuleSet, parse_rules
from streamrec.model_registry.chunks import Chunk, reassemble
from streamrec.model_registry.errors import ChunkError, PackageError
from streamrec.model_registry.package import LoadedModel, load_package
from streamrec.state.features import UNKNOWN_CATEGORY, FeatureSpec, UserFeatures
from streamrec.udfs.scoring import ScoringConfig, score_batch

log = logging.getLogger(__name__)

MODEL_KEY = "model"
RULES_KEY = "rules"
CHUNK_PREFIX = "chunk/"
ASSEMBLING_PREFIX = "assembling/"


class BroadcastStore(Protocol):
    """The part of Flink's (read-only) broadcast state this module uses."""

    def get(self, key: str) -> bytes | None: ...

    def contains(self, key: str) -> bool: ...


class WritableBroadcastStore(BroadcastStore, Protocol):
    def put(self, key: str, value: bytes) -> None: ...

    def remove(self, key: str) -> None: ...


class Latin1Store:
    """Bytes over a STRING-valued Flink broadcast state.

    Thread mode hands a ``byte[]`` state value to the JVM as ``Object[]`` and the state
    snapshot fails (ClassCastException), so values are stored as ISO-8859-1 text, which
    maps each byte to one character and back.
    """

    def __init__(self, state: object) -> None:
        self._state: object = state

    def get(self, key: str) -> bytes | None:
        value = self._state.get(key)  # type: ignore[attr-defined]
        return None if value is None else value.encode("latin-1")

    def contains(self, key: str) -> bool:
        return bool(self._state.contains(key))  # type: ignore[attr-defined]

    def put(self, key: str, value: bytes) -> None:
        self._state.put(key, value.decode("latin-1"))  # type: ignore[attr-defined]

    def remove(self, key: str) -> None:
        self._state.remove(key)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    """What one control message did, for the job's metrics and log."""

    kind: str
    """``model`` or ``rules``."""
    accepted: bool
    version: str | None
    message: str


class Serving:
    """The model and rules one scoring subtask serves, and their verification."""

    def __init__(self, feature_spec: FeatureSpec, retrieval_backend: str = "auto") -> None:
        self.feature_spec = feature_spec
        self.retrieval_backend = retrieval_backend
        self.model: LoadedModel | None = None
        self.rules: RuleSet | None = None
        self._category_of: dict[str, str] = {}
        self._restored = False

    @property
    def category_of(self) -> Mapping[str, str]:
        """Item id -> category name of the serving model's catalogue (empty without one)."""
        return self._category_of

    @property
    def needs_restore(self) -> bool:
        return not self._restored

    def restore(self, store: BroadcastStore) -> None:
        """Load what broadcast state holds after a (re)start; a no-op after the first call."""
        if self._restored:
            return
        self._restored = True
        package = store.get(MODEL_KEY) if store.contains(MODEL_KEY) else None
        if package is not None and self.model is None:
            try:
                self._serve_model(load_package(bytes(package), self.feature_spec))
            except PackageError as ex:  # It verified once; a newer job may need other features.
                log.error("model in broadcast state no longer loads, serving fallback: %s", ex)
        rules = store.get(RULES_KEY) if store.contains(RULES_KEY) else None
        if rules is not None and self.rules is None:
            try:
                self.rules = parse_rules(bytes(rules))
            except InvalidRulesError as ex:
                log.error("rules in broadcast state no longer parse, serving none: %s", ex)

    def on_model_chunk(self, raw: bytes, store: WritableBroadcastStore) -> Outcome | None:
        """Keep one chunk; once a package is complete, verify, load and swap it in.

        Returns None while a package is still incomplete.
        """
        self._restored = True  # broadcast elements may precede any keyed element
        try:
            piece = Chunk.from_bytes(raw)
        except ChunkError as ex:
            return Outcome("model", False, None, f"unreadable chunk: {ex}")
        # Flink's BroadcastState cannot list keys in thread mode, so chunk keys are derived
        # from (model, sha256, index) and the package being assembled is recorded per model.
        assembling_key = f"{ASSEMBLING_PREFIX}{piece.model_name}"
        if piece.index == 0:
            # A new package supersedes any unfinished one of the same model.
            self._drop_chunks(store, assembling_key)
            store.put(assembling_key, f"{piece.package_sha256} {piece.total}".encode())
        elif not self._is_assembling(store, assembling_key, piece.package_sha256):
            # A stray chunk (e.g. left on the compacted topic by a larger older package).
            return None
        store.put(_chunk_key(piece.model_name, piece.package_sha256, piece.index), raw)
        keys = [_chunk_key(piece.model_name, piece.package_sha256, i) for i in range(piece.total)]
        if not all(store.contains(k) for k in keys):
            return None
        chunks = [Chunk.from_bytes(bytes(store.get(k))) for k in keys]
        for key in keys:
            store.remove(key)
        if store.contains(assembling_key):
            store.remove(assembling_key)
        where = f"model {piece.model_name} version {piece.version}"
        try:
            package = reassemble(chunks)
            model = load_package(package, self.feature_spec, piece.package_sha256)
        except (ChunkError, PackageError) as ex:
            return Outcome("model", False, piece.version, f"{where} rejected: {ex}")
        store.put(MODEL_KEY, package)
        self._serve_model(model)
        return Outcome("model", True, model.version, f"{where} now serving")

    def on_rules(self, raw: bytes, store: WritableBroadcastStore) -> Outcome:
        """Parse and swap in a rule set, or reject it and keep the current one."""
        self._restored = True
        try:
            rules = parse_rules(raw)
        except InvalidRulesError as ex:
            return Outcome("rules", False, None, f"rules rejected: {ex}")
        store.put(RULES_KEY, raw)
        self.rules = rules
        return Outcome("rules", True, rules.version, f"rules {rules.version} now serving")

    @staticmethod
    def _is_assembling(store: BroadcastStore, assembling_key: str, sha256: str) -> bool:
        if not store.contains(assembling_key):
            return False
        return bytes(store.get(assembling_key)).decode().split()[0] == sha256

    @staticmethod
    def _drop_chunks(store: WritableBroadcastStore, assembling_key: str) -> None:
        if not store.contains(assembling_key):
            return
        sha, total = bytes(store.get(assembling_key)).decode().split()
        model_name = assembling_key[len(ASSEMBLING_PREFIX) :]
        for index in range(int(total)):
            key = _chunk_key(model_name, sha, index)
            if store.contains(key):
                store.remove(key)
        store.remove(assembling_key)

    def _serve_model(self, model: LoadedModel) -> None:
        self._category_of = category_lookup(model)
        # Build now what the first batch would otherwise build on the scoring path: the
        # retrieval index (HNSW takes seconds at 100K items) and the traced TF graphs,
        # which serve every batch size once traced (scoring.compiled).
        score_batch(model, [UserFeatures()], ScoringConfig(backend=self.retrieval_backend))
        self.model = model


def _chunk_key(model_name: str, sha256: str, index: int) -> str:
    return f"{CHUNK_PREFIX}{model_name}/{sha256}/{index:06d}"


def category_lookup(model: LoadedModel) -> dict[str, str]:
    """Item id -> category name, as features.update needs it, from a model's catalogue."""
    names = model.vectorizer.categories
    return {
        item: names[c - 1] if c > 0 else UNKNOWN_CATEGORY
        for item, c in zip(model.item_ids, model.item_categories.tolist(), strict=True)
    }
