"""Errors of the offline model side; all subclass streamrec.errors.StreamrecError."""

from __future__ import annotations

from streamrec.errors import StreamrecError


class ModelRegistryError(StreamrecError):
    """Base of model_registry errors."""


class PackageError(ModelRegistryError):
    """A model package cannot be used; the message names the problem."""


class CorruptPackageError(PackageError):
    """The bytes are not a readable package container (truncated, garbled)."""


class ChecksumMismatchError(PackageError):
    """A sha256 in the manifest or a chunk header does not match the bytes."""


class ChunkError(PackageError):
    """Chunks are missing, duplicated, out of order or from different packages."""


class FeatureSpecMismatchError(PackageError):
    """The package needs user features the job cannot supply."""


class EmbeddingDimensionError(PackageError):
    """User tower output and item embeddings disagree on the embedding dimension."""


class UnsupportedFormatError(PackageError):
    """The package's format_version is not one this code reads."""


class DataError(ModelRegistryError):
    """Input interaction data cannot be loaded (bad layout, bad mapping)."""


class RegistryError(ModelRegistryError):
    """An MLflow registry operation failed or was refused."""


class PublishError(ModelRegistryError):
    """A package could not be delivered to Kafka."""
