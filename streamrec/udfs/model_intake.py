"""From a message on ``models`` to a package's bytes: parse, verify origin, fetch.

Each step raises its own ModelPackageError subclass (reference, signature, artifact,
package), whose ``reason`` names the rejection in the job's log and metrics. Nothing here
executes code from the package (``package.load_package`` builds architectures in code).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from streamrec.model_package.artifact_fetch import (
    DEFAULT_FETCH_TIMEOUT_S,
    DEFAULT_MAX_ARTIFACT_BYTES,
    ArtifactFetcher,
    default_cache_dir,
)
from streamrec.model_package.package_limits import DEFAULT_LIMITS, PackageLimits
from streamrec.model_package.reference import ModelReference, parse_reference
from streamrec.model_package.signing import public_key_from_base64, trusted_keys, verify
from streamrec.state.features import FeatureSpec


@dataclass(frozen=True)
class IntakeSettings:
    """Plain values, so the job's settings pickle to the TaskManager as they are."""

    public_keys_base64: tuple[str, ...] = ()
    """Trusted publisher keys; with none, every model reference is rejected."""
    cache_dir: str | None = None
    """Where fetched packages are kept by sha256; None: the system temp dir."""
    max_artifact_bytes: int = DEFAULT_MAX_ARTIFACT_BYTES
    fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S
    package_limits: PackageLimits = DEFAULT_LIMITS
    """What the package may expand to; its ``max_package_bytes`` is lowered to
    ``max_artifact_bytes`` (one cap on what is fetched)."""


class ModelIntake:
    def __init__(self, settings: IntakeSettings, feature_spec: FeatureSpec) -> None:
        self.keys = trusted_keys(public_key_from_base64(k) for k in settings.public_keys_base64)
        cache = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
        self.fetcher = ArtifactFetcher(cache, settings.max_artifact_bytes, settings.fetch_timeout_s)
        self.feature_spec = feature_spec
        self.limits = replace(
            settings.package_limits,
            max_package_bytes=min(
                settings.package_limits.max_package_bytes, settings.max_artifact_bytes
            ),
        )

    def fetch(self, raw: bytes) -> tuple[ModelReference, bytes]:
        """The verified reference and its package's bytes (digest checked), or a
        ModelPackageError. What the package holds is checked where it is loaded."""
        reference = parse_reference(raw)
        verify(reference, self.keys)
        return reference, self.fetcher.fetch(reference)
