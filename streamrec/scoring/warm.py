"""Load a verified package and make it ready to serve before it takes any traffic.

A version is warm when its retrieval index is built and its TensorFlow graphs are
traced: the first batch after a swap then costs what every other batch costs (HNSW takes
seconds at 100K items; a trace ~1 s). A package that fails here is rejected before it
replaces anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streamrec.model_package.package import LoadedModel, load_package
from streamrec.model_package.package_limits import PackageLimits
from streamrec.scoring.pipeline import ScoringConfig, score_batch
from streamrec.state.features import UNKNOWN_CATEGORY, FeatureSpec, UserFeatures


@dataclass(frozen=True)
class ServedModel:
    """What the keyed side of the job needs of a model: its name and its catalogue's
    categories (features.update folds categories); the weights stay with the scorer."""

    version: str
    model_name: str
    category_of: Mapping[str, str]


def load_warm(
    package: bytes,
    sha256: str,
    spec: FeatureSpec,
    limits: PackageLimits,
    backend: str,
) -> LoadedModel:
    """The loaded, indexed and traced model, or a PackageError naming the problem."""
    model = load_package(package, spec, sha256, limits)
    score_batch(model, [UserFeatures()], ScoringConfig(backend=backend))
    return model


def served(model: LoadedModel) -> ServedModel:
    return ServedModel(model.version, model.model_name, category_lookup(model))


def category_lookup(model: LoadedModel) -> dict[str, str]:
    """Item id -> category name, as features.update needs it, from a model's catalogue."""
    names = model.vectorizer.categories
    return {
        item: names[c - 1] if c > 0 else UNKNOWN_CATEGORY
        for item, c in zip(model.item_ids, model.item_categories.tolist(), strict=True)
    }


@dataclass(frozen=True)
class InProcessLoader:
    """``serving.ModelLoader`` that loads into this process (offline tools and tests; the
    job loads in its scoring worker)."""

    spec: FeatureSpec
    limits: PackageLimits
    backend: str = "auto"

    def __call__(self, package: bytes, sha256: str) -> ServedModel:
        return served(load_warm(package, sha256, self.spec, self.limits, self.backend))
