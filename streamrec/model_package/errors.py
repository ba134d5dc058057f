"""Errors of the model package and its intake: why a package or a reference to one is
refused. All subclass streamrec.errors.StreamrecError; the job counts each refusal under
``rejection_reason`` and keeps the old model serving."""

from __future__ import annotations

from streamrec.errors import StreamrecError


class ModelPackageError(StreamrecError):
    """Base of model package and intake errors."""


class PackageError(ModelPackageError):
    """A model package cannot be used; the message names the problem."""


class CorruptPackageError(PackageError):
    """The bytes are not a readable package container (truncated, garbled)."""


class ChecksumMismatchError(PackageError):
    """A sha256 in the manifest or a chunk header does not match the bytes."""


class FeatureSpecMismatchError(PackageError):
    """The package needs user features the job cannot supply."""


class EmbeddingDimensionError(PackageError):
    """User tower output and item embeddings disagree on the embedding dimension."""


class UnsupportedFormatError(PackageError):
    """The package's format_version is not one this code reads."""


class ModelIntakeError(ModelPackageError):
    """A model reference was refused before its package was loaded.

    ``reason`` is a short code for the job's log line and rejection metrics.
    """

    reason = "intake"


class InvalidReferenceError(ModelIntakeError):
    """A message on the models topic is not a well-formed model reference."""

    reason = "bad_reference"


class SignatureError(ModelIntakeError):
    """A reference is unsigned, signed by an unknown key, or its signature does not verify."""

    reason = "bad_signature"


class SigningKeyError(ModelPackageError):
    """A signing or verification key file is missing or unreadable."""


class ArtifactError(ModelIntakeError):
    """A package artifact cannot be fetched, is larger than allowed, or has another digest."""

    reason = "artifact_unavailable"


class ArtifactTooLargeError(ArtifactError):
    reason = "artifact_too_large"


class ArtifactDigestError(ArtifactError):
    reason = "artifact_digest_mismatch"


class PackageLimitError(PackageError):
    """A package exceeds a cap in PackageLimits (bytes, members, decompressed size, catalogue)."""


class InvalidManifestError(CorruptPackageError):
    """manifest.json is not JSON, nests too deep, or has a missing, mistyped or out-of-range
    field, or declares an architecture outside the allow-list."""


class UnexpectedMemberError(CorruptPackageError):
    """The container holds a member the format does not define: an unknown or unsafe name, a
    duplicate, an encrypted member or an unsupported compression method."""


class InvalidContentError(CorruptPackageError):
    """An artifact's content is unusable: a bad array header, dtype or shape, non-finite
    values, category indices out of range, duplicate or malformed item ids."""


class PackageRejectedError(ModelIntakeError):
    """A package the scoring worker refused to load; ``reason`` is the worker's code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def rejection_reason(error: ModelPackageError) -> str:
    """The short code a rejected model is counted and logged under (``rejected.model.*``)."""
    if isinstance(error, PackageError):
        return "bad_package"
    return getattr(error, "reason", "") or "rejected"
