"""What the scoring operator serves: the model version and rule set, kept as broadcast state.

Model references (``model_package.reference``) and rule sets arrive as data on the
``models`` and ``rules`` topics and are broadcast to every scoring subtask. Each message is
verified before it replaces what is serving; a bad one is rejected and the previous one
keeps serving. Whatever is accepted is written to broadcast state, so a job restored from
a checkpoint or savepoint serves the same model and rules without a re-publish: the
reference names the package in the artifact store, which the restored job fetches again
(from its local cache when it is there).

Restore first: whatever callback comes first after a (re)start, keyed or broadcast, loads
what broadcast state holds before it does anything else, so a rules message or a new
reference arriving first never leaves the job serving nothing.

Broadcast state keys (values are raw bytes):

- ``model_ref``: the signed reference of the model now serving (a few hundred bytes).
- ``rules``: the rules message now serving.

Older versions kept package bytes (``model``) and chunks under other keys; they are not
served (they carry no signature) and ``model`` is dropped at the first broadcast record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from streamrec.contracts.errors import InvalidRulesError
from streamrec.contracts.rules import RuleSet, parse_rules
from streamrec.model_package.errors import ModelPackageError, rejection_reason
from streamrec.scoring.warm import ServedModel
from streamrec.state.features import FeatureSpec
from streamrec.udfs.model_intake import IntakeSettings, ModelIntake

log = logging.getLogger(__name__)

MODEL_KEY = "model_ref"
RULES_KEY = "rules"
LEGACY_PACKAGE_KEY = "model"


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
    reason: str = ""
    """Why it was rejected, a short code (``bad_reference``, ``bad_signature``,
    ``artifact_unavailable``, ``bad_package``, ``bad_rules``, ``internal_error``...)."""


def internal_error(kind: str, ex: BaseException) -> Outcome:
    """The rejection of a control record that raised something unexpected."""
    text = f"{type(ex).__name__}: {str(ex)[:300]}"
    return Outcome(kind, False, None, f"{kind} message rejected: internal error {text}",
                   "internal_error")  # fmt: skip


class ModelLoader(Protocol):
    """Loads, indexes and traces a fetched, digest-checked package where it will score
    (the job's scoring worker) and returns what the keyed side needs of it; raises a
    ModelPackageError (with a ``reason``) for a package that must be rejected."""

    def __call__(self, package: bytes, sha256: str) -> ServedModel: ...


class RulesSink(Protocol):
    """Where accepted rules go to be applied (the job's scoring worker)."""

    def __call__(self, raw: bytes) -> None: ...


class Serving:
    """The model and rules one scoring subtask serves, and their verification.

    References are verified and packages fetched here; ``loader`` loads them where they
    score. ``model`` is what the keyed side needs: version, name, catalogue categories.
    """

    def __init__(
        self,
        feature_spec: FeatureSpec,
        loader: ModelLoader,
        rules_sink: RulesSink | None = None,
        intake: IntakeSettings | None = None,
    ) -> None:
        self.feature_spec = feature_spec
        self._loader = loader
        self._rules_sink = rules_sink
        self.model: ServedModel | None = None
        self.rules: RuleSet | None = None
        self._restored = False
        self._intake_settings = intake or IntakeSettings()
        self._intake: ModelIntake | None = None

    @property
    def category_of(self) -> Mapping[str, str]:
        """Item id -> category name of the serving model's catalogue (empty without one)."""
        return self.model.category_of if self.model is not None else {}

    @property
    def needs_restore(self) -> bool:
        return not self._restored

    def use_intake(self, settings: IntakeSettings) -> None:
        """Set how model references are verified and fetched (before the first one)."""
        self._intake_settings, self._intake = settings, None

    @property
    def intake(self) -> ModelIntake:
        if self._intake is None:
            self._intake = ModelIntake(self._intake_settings, self.feature_spec)
        return self._intake

    def restore(self, store: BroadcastStore) -> None:
        """Load what broadcast state holds after a (re)start; a no-op after the first call.

        Never raises: what no longer loads is logged and the job serves the fallback.
        """
        if self._restored:
            return
        self._restored = True
        if store.contains(LEGACY_PACKAGE_KEY):
            log.error(
                "broadcast state holds an unsigned package from an older version of the job; "
                "it is not served: publish the model again (streamrec model publish)"
            )
        try:
            self._restore_model(store)
        except Exception as ex:  # e.g. the key was rotated, the store is down
            log.error("model in broadcast state cannot be served, serving fallback: %s: %s",
                      type(ex).__name__, ex)  # fmt: skip
        try:
            rules = store.get(RULES_KEY) if store.contains(RULES_KEY) else None
            if rules is not None and self.rules is None:
                self.rules = parse_rules(bytes(rules))
                if self._rules_sink is not None:
                    self._rules_sink(bytes(rules))
        except Exception as ex:
            log.error("rules in broadcast state no longer parse, serving none: %s: %s",
                      type(ex).__name__, ex)  # fmt: skip

    def handle(self, kind: str, raw: bytes | None, store: WritableBroadcastStore) -> Outcome:
        """One control record: restore first, then swap it in or reject it. Never raises."""
        kind = "model" if kind == "model" else "rules"
        try:
            self.restore(store)
            if store.contains(LEGACY_PACKAGE_KEY):
                store.remove(LEGACY_PACKAGE_KEY)  # megabytes in every checkpoint, never served
            if raw is None:
                raw = b""
            if kind == "model":
                return self.on_model_reference(bytes(raw), store)
            return self.on_rules(bytes(raw), store)
        except Exception as ex:  # no control record may fail the job
            return internal_error(kind, ex)

    def on_model_reference(self, raw: bytes, store: WritableBroadcastStore) -> Outcome:
        """Verify a signed reference, fetch and load its package, and swap it in."""
        self.restore(store)
        if self.model is not None and store.get(MODEL_KEY) == raw:
            return Outcome("model", True, self.model.version, "that model is already serving")
        started = time.monotonic()
        try:
            reference, package = self.intake.fetch(raw)
            model = self._loader(package, reference.sha256)
        except ModelPackageError as ex:
            return Outcome("model", False, None, f"model rejected: {ex}", rejection_reason(ex))
        self.model = model
        store.put(MODEL_KEY, bytes(raw))
        loaded_ms = (time.monotonic() - started) * 1000
        since_publish = int(time.time() * 1000) - reference.published_ms
        return Outcome(
            "model", True, model.version,
            f"{reference.describe()} now serving (fetched and loaded in {loaded_ms:.0f} ms; "
            f"{since_publish} ms after it was published)",
        )  # fmt: skip

    def on_rules(self, raw: bytes, store: WritableBroadcastStore) -> Outcome:
        """Parse and swap in a rule set, or reject it and keep the current one."""
        self.restore(store)
        try:
            rules = parse_rules(raw)
        except InvalidRulesError as ex:
            return Outcome("rules", False, None, f"rules rejected: {ex}", "bad_rules")
        if self._rules_sink is not None:
            self._rules_sink(raw)
        store.put(RULES_KEY, raw)
        self.rules = rules
        return Outcome("rules", True, rules.version, f"rules {rules.version} now serving")

    def _restore_model(self, store: BroadcastStore) -> None:
        raw = store.get(MODEL_KEY) if store.contains(MODEL_KEY) else None
        if raw is None or self.model is not None:
            return
        started = time.monotonic()
        reference, package = self.intake.fetch(bytes(raw))
        self.model = self._loader(package, reference.sha256)
        log.info("restored %s from broadcast state in %.0f ms", reference.describe(),
                 (time.monotonic() - started) * 1000)  # fmt: skip
