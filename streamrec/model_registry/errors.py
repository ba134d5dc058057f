"""Errors of the training and registry side; all subclass streamrec.errors.StreamrecError.

A package the serving side refuses raises model_package.errors instead."""

from __future__ import annotations

from streamrec.errors import StreamrecError


class ModelRegistryError(StreamrecError):
    """Base of model_registry errors (training data, MLflow registry, publishing)."""


class DataError(ModelRegistryError):
    """Input interaction data cannot be loaded (bad layout, bad mapping)."""


class RegistryError(ModelRegistryError):
    """An MLflow registry operation failed or was refused."""


class PublishError(ModelRegistryError):
    """A package could not be delivered to Kafka."""
