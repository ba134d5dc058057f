"""Offline side: data, training, evaluation, MLflow registry, model packages, publishing."""
