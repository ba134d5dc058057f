"""Publish models to a job under test the way `streamrec model publish` does, and bad ones.

Packages go to the stack's MLflow artifact store (through its artifact proxy) and a
reference signed with the stack's key goes to the job's models topic. The bad-input tests
use ``publish_raw_package`` (any bytes, stored and correctly signed, so they reach the
package loader) and ``publish_raw_reference`` / ``bad_references`` (messages that must
be refused before anything is fetched or loaded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streamrec.model_package.package import read_manifest
from streamrec.model_package.reference import ModelReference
from streamrec.model_package.signing import load_private_key, sign
from streamrec.model_registry.artifact_store import MLFLOW_ARTIFACTS_ROUTE, MlflowArtifactStore
from streamrec.model_registry.publisher import publish_package, publish_raw, reference_for
from streamrec.stack.config import StackConfig
from streamrec.stack.keys import public_key_path, signing_key_path
from tests.polling import wait_for

log = logging.getLogger(__name__)


class ModelPublisher:
    def __init__(self, config: StackConfig, topic: str, model_name: str | None = None) -> None:
        self.config = config
        self.topic = topic
        self.model_name = model_name
        self.store = MlflowArtifactStore(config.mlflow_url)
        self.key = load_private_key(signing_key_path(config))

    def job_args(self) -> list[str]:
        """Job arguments: the stack's public key and a package cache of this job's own."""
        return ["--model-public-key", str(public_key_path(self.config)),
                "--model-cache-dir", str(cache_dir(self.config, self.topic))]  # fmt: skip

    def publish(self, package: bytes) -> ModelReference:
        """Store and publish a package; name and version come from its manifest."""
        return self._publish(package, None, None)

    def publish_raw_package(
        self, package: bytes, *, version: str, model_name: str = "bad-package"
    ) -> ModelReference:
        """Store any bytes and publish a correctly signed reference to them."""
        return self._publish(package, self.model_name or model_name, version)

    def publish_raw_reference(self, raw: bytes, model_name: str = "bad-reference") -> None:
        """Put ``raw`` on the models topic as it is (a message that is no good reference)."""
        publish_raw(raw, model_name, self.config.kafka_bootstrap, self.topic)

    def signed(self, reference: ModelReference) -> ModelReference:
        return sign(reference, self.key)

    def bad_references(self, good_package: bytes) -> list[bytes]:
        """One message per way a reference can be refused; each is one rejection."""
        manifest = read_manifest(good_package)
        uri = self.store.put(good_package)
        good = self.signed(reference_for(good_package, uri, manifest.model_name, "bad-ref"))
        missing_uri = f"{self.config.mlflow_url}{MLFLOW_ARTIFACTS_ROUTE}/streamrec-packages/none"
        stranger = Ed25519PrivateKey.generate()
        never_stored = b"bytes that were never stored: " + uri.encode()
        uncached = dataclasses.replace(
            good, sha256=hashlib.sha256(never_stored).hexdigest(), size=len(never_stored)
        )
        return [
            b"",  # an empty value (not a tombstone)
            b"\x00\xff not json",
            b'{"version": "r1"}',  # rules sent to the models topic
            b"[" * 4_000,  # nested beyond the recursion limit, within the size cap
            b"{" * 10_000,  # larger than any reference
            b"SRPC\x00\x00\x00\x02{}",  # a chunk of the old inline format
            dataclasses.replace(good, signature="", key_id="").to_bytes(),  # unsigned
            dataclasses.replace(good, version="bad-tampered").to_bytes(),  # signed field changed
            sign(good, stranger).to_bytes(),  # signed by a key the job does not trust
            good.signed(good.key_id, "A" * 86 + "==").to_bytes(),  # garbage signature
            # Content the job has not cached: a cached sha256 is served from the cache
            # whatever the URI says (the signed digest names the bytes, not the place).
            self.signed(dataclasses.replace(uncached, uri=missing_uri)).to_bytes(),  # 404
            self.signed(dataclasses.replace(uncached, uri="http://127.0.0.1:9/x")).to_bytes(),
            self.signed(dataclasses.replace(good, sha256="0" * 64)).to_bytes(),  # other bytes
            self.signed(dataclasses.replace(good, size=good.size - 1)).to_bytes(),  # longer
            self.signed(dataclasses.replace(good, size=2**40)).to_bytes(),  # over the cap
            self.signed(dataclasses.replace(good, uri="file:///etc/passwd")).to_bytes(),
        ]

    def time_to_serving(
        self, package: bytes, serving_version: Callable[[], str | None], timeout_s: float = 120
    ) -> float:
        """Seconds from the start of a publish until ``serving_version()`` names its version.

        ``serving_version`` is e.g. a probe event's ``model_version``; the publish itself
        (upload to MLflow, sign, produce) is included, as a user running `model publish`
        would count it.
        """
        started = time.monotonic()
        reference = self.publish(package)
        published = time.monotonic()
        wait_for(lambda: serving_version() == reference.version, timeout_s,
                 f"version {reference.version} serving")  # fmt: skip
        served = time.monotonic()
        log.info(
            "publish -> serving of %s: %.2f s (publish %.2f s, then %.2f s until served)",
            reference.describe(), served - started, published - started, served - published,
        )  # fmt: skip
        return served - started

    def _publish(
        self, package: bytes, model_name: str | None, version: str | None
    ) -> ModelReference:
        return publish_package(
            package, self.config.kafka_bootstrap, self.topic, store=self.store,
            signing_key=self.key, model_name=model_name, version=version,
        )  # fmt: skip


def cache_dir(config: StackConfig, topic: str) -> Path:
    """Where the job under test keeps fetched packages (one directory per models topic)."""
    return config.data_dir / "model-cache" / topic
