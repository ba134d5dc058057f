"""The package manifest (format 2): what a package declares, parsed strictly.

Format 2 declares the architecture as plain numbers and allow-listed names (the
``architecture`` object: a UserTowerSpec and an optional RankerSpec) and lists exactly
the members the package holds. Format 1 carried Keras architecture JSON that the loader
deserialized; it is refused with UnsupportedFormatError asking for a republish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from streamrec.model_package.errors import (
    EmbeddingDimensionError,
    InvalidManifestError,
    PackageLimitError,
    UnsupportedFormatError,
)
from streamrec.model_package.package_limits import DEFAULT_LIMITS, PackageLimits
from streamrec.model_package.ranker_net import RankerSpec
from streamrec.model_package.spec_fields import (
    get,
    integer,
    number,
    obj,
    only_keys,
    parse_json,
    text,
)
from streamrec.model_package.user_tower import UserTowerSpec
from streamrec.state.features import FeatureSpec, ScoringUse

FORMAT_VERSION = 2
SUPPORTED_FORMAT_VERSIONS = frozenset({FORMAT_VERSION})
MANIFEST = "manifest.json"
ITEM_IDS = "item_ids.json"
CATEGORIES = "categories.json"
EMBEDDINGS = "item_embeddings.npy"
ITEM_CATEGORIES = "item_categories.npy"
ITEM_DENSE = "item_dense.npy"
DATA_MEMBERS = (ITEM_IDS, CATEGORIES, EMBEDDINGS, ITEM_CATEGORIES, ITEM_DENSE)
TRANSITION_INDPTR = "transitions_indptr.npy"
TRANSITION_INDICES = "transitions_indices.npy"
TRANSITION_WEIGHTS = "transitions_weights.npy"
TRANSITION_MEMBERS = (TRANSITION_INDPTR, TRANSITION_INDICES, TRANSITION_WEIGHTS)
"""Present exactly when the manifest has ``transition_count`` (scoring.transitions)."""
MAX_TRANSITIONS_PER_ITEM = 256
MAX_ITEM_DENSE_WIDTH = 256
MAX_FEATURE_FIELDS = 64
_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEYS = frozenset(
    [
        "format_version",
        "model_name",
        "version",
        "created_ms",
        "feature_spec",
        "metrics",
        "embedding_dim",
        "n_items",
        "n_categories",
        "item_dense_width",
        "transition_count",
        "params",
        "architecture",
        "artifacts",
    ]
)


def weight_members(part: str, count: int) -> list[str]:
    """Member names of a Keras model's weights, one ``.npy`` per tensor in order."""
    return [f"{part}.{i}.npy" for i in range(count)]


@dataclass(frozen=True)
class Architecture:
    user_tower: UserTowerSpec
    ranker: RankerSpec | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_tower": self.user_tower.to_dict(),
            "ranker": None if self.ranker is None else self.ranker.to_dict(),
        }

    def member_shapes(self) -> dict[str, tuple[int, ...]]:
        """Weight member name -> required shape."""
        parts = [("user_tower", self.user_tower.weight_shapes())]
        if self.ranker is not None:
            parts.append(("ranker", self.ranker.weight_shapes()))
        return {
            name: shape
            for part, shapes in parts
            for name, shape in zip(weight_members(part, len(shapes)), shapes, strict=True)
        }


@dataclass(frozen=True)
class PackageManifest:
    """What a package says about itself."""

    format_version: int
    model_name: str
    version: str
    created_ms: int
    feature_spec: FeatureSpec
    metrics: dict[str, float]
    embedding_dim: int
    n_items: int
    n_categories: int
    item_dense_width: int
    architecture: Architecture
    params: dict[str, Any]
    artifacts: dict[str, dict[str, Any]]
    """member name -> {"sha256": hex, "size": bytes}; exactly the members besides this one."""
    transition_count: int | None = None
    """Entries of the item transition rows; None: the package has none (older packages)."""

    def member_names(self) -> list[str]:
        transitions = TRANSITION_MEMBERS if self.transition_count is not None else ()
        return [*DATA_MEMBERS, *transitions, *self.architecture.member_shapes()]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model_name": self.model_name,
            "version": self.version,
            "created_ms": self.created_ms,
            "feature_spec": self.feature_spec.to_dict(),
            "metrics": self.metrics,
            "embedding_dim": self.embedding_dim,
            "n_items": self.n_items,
            "n_categories": self.n_categories,
            "item_dense_width": self.item_dense_width,
            **(
                {} if self.transition_count is None else {"transition_count": self.transition_count}
            ),
            "params": self.params,
            "architecture": self.architecture.to_dict(),
            "artifacts": self.artifacts,
        }

    @classmethod
    def from_dict(cls, value: Any, limits: PackageLimits = DEFAULT_LIMITS) -> PackageManifest:
        """Parse and cross-check a manifest; raise a PackageError subclass naming the field."""
        data = obj(value, MANIFEST)
        version = data.get("format_version")
        if version not in SUPPORTED_FORMAT_VERSIONS or type(version) is not int:
            hint = (
                " (format 1 carried a Keras architecture to deserialize, which this code no "
                "longer does; retrain with this release, `streamrec model train`, and publish "
                "the new version)"
                if version == 1
                else ""
            )
            raise UnsupportedFormatError(
                f"package format_version {str(version)[:20]} is not supported; this code reads "
                f"{sorted(SUPPORTED_FORMAT_VERSIONS)}{hint}"
            )
        only_keys(data, _KEYS, MANIFEST)
        n_items = _capped(data, "n_items", limits.max_items)
        n_categories = _capped(data, "n_categories", limits.max_categories)
        dim = _capped(data, "embedding_dim", limits.max_embedding_dim)
        arch = obj(get(data, "architecture", MANIFEST), "architecture")
        only_keys(arch, {"user_tower", "ranker"}, "architecture")
        user = UserTowerSpec.from_dict(get(arch, "user_tower", "architecture"))
        raw_ranker = arch.get("ranker")
        ranker = None if raw_ranker is None else RankerSpec.from_dict(raw_ranker)
        manifest = cls(
            format_version=version,
            model_name=text(get(data, "model_name", MANIFEST), limits.max_id_chars, "model_name"),
            version=text(get(data, "version", MANIFEST), limits.max_id_chars, "version"),
            created_ms=integer(data, "created_ms", 0, 2**53, MANIFEST),
            feature_spec=_feature_spec(get(data, "feature_spec", MANIFEST), limits),
            metrics={
                text(k, limits.max_id_chars, "metrics key"): number(v, f"metrics.{k}")
                for k, v in obj(get(data, "metrics", MANIFEST), "metrics").items()
            },
            embedding_dim=dim,
            n_items=n_items,
            n_categories=n_categories,
            item_dense_width=integer(data, "item_dense_width", 0, MAX_ITEM_DENSE_WIDTH, MANIFEST),
            architecture=Architecture(user, ranker),
            params=obj(data.get("params", {}), "params"),
            artifacts=_artifacts(get(data, "artifacts", MANIFEST), limits),
            transition_count=(
                integer(data, "transition_count", 0, n_items * MAX_TRANSITIONS_PER_ITEM, MANIFEST)
                if "transition_count" in data
                else None
            ),
        )
        manifest._check_consistent()
        return manifest

    def _check_consistent(self) -> None:
        user, ranker = self.architecture.user_tower, self.architecture.ranker
        if user.embedding_dim != self.embedding_dim:
            raise EmbeddingDimensionError(
                f"user tower outputs dimension {user.embedding_dim}, manifest says "
                f"embedding_dim {self.embedding_dim}"
            )
        if (user.n_items, user.n_categories) != (self.n_items, self.n_categories):
            raise InvalidManifestError(
                f"user tower is built for {user.n_items} items and {user.n_categories} "
                f"categories, manifest says {self.n_items} and {self.n_categories}"
            )
        if ranker is not None:
            # What udfs.ranking.ranker_inputs feeds it: affinity ++ activity, item_dense.
            wanted = (self.n_categories, self.n_categories + user.activity_width)
            if (ranker.n_categories, ranker.user_dense_width) != wanted or (
                ranker.item_dense_width != self.item_dense_width
            ):
                raise InvalidManifestError(
                    f"ranker spec {ranker} does not fit {self.n_categories} categories, "
                    f"activity width {user.activity_width}, item_dense_width "
                    f"{self.item_dense_width}"
                )
        scoring = self.feature_spec.scoring
        if scoring is not None and scoring.weighs("transition") and self.transition_count is None:
            raise InvalidManifestError(
                "scoring.blend weighs the transition term but the package has no transitions"
            )
        expected = set(self.member_names())
        if set(self.artifacts) != expected:
            missing = sorted(expected - set(self.artifacts))
            extra = sorted(set(self.artifacts) - expected)
            raise InvalidManifestError(
                f"artifacts table lists {extra[:5]} beyond the format and lacks {missing[:5]}"
            )


def parse_manifest(raw: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> PackageManifest:
    return PackageManifest.from_dict(parse_json(raw, MANIFEST, limits.max_json_depth), limits)


def _capped(data: dict[str, Any], key: str, cap: int) -> int:
    value = get(data, key, MANIFEST)
    if type(value) is int and value > cap:
        raise PackageLimitError(f"{key}={str(value)[:40]} exceeds the limit {cap}")
    return integer(data, key, 1, cap, MANIFEST)


def _feature_spec(value: Any, limits: PackageLimits) -> FeatureSpec:
    where = "feature_spec"
    data = obj(value, where)
    only_keys(data, {"name", "version", "fields", "half_life_ms", "event_types", "scoring"}, where)
    text(get(data, "name", where), limits.max_id_chars, f"{where}.name")
    integer(data, "version", 0, 2**31, where)
    integer(data, "half_life_ms", 1, 2**53, where)
    fields = get(data, "fields", where)
    types = get(data, "event_types", where)
    if not isinstance(fields, list) or len(fields) > MAX_FEATURE_FIELDS:
        raise InvalidManifestError(f"{where}.fields: expected a list of fields")
    if not isinstance(types, list) or len(types) > MAX_FEATURE_FIELDS:
        raise InvalidManifestError(f"{where}.event_types: expected a list of names")
    for i, t in enumerate(types):
        text(t, limits.max_id_chars, f"{where}.event_types[{i}]")
    for i, field in enumerate(fields):
        at = f"{where}.fields[{i}]"
        entry = obj(field, at)
        only_keys(entry, {"name", "dtype", "shape"}, at)
        text(get(entry, "name", at), limits.max_id_chars, f"{at}.name")
        text(get(entry, "dtype", at), limits.max_id_chars, f"{at}.dtype")
        shape = get(entry, "shape", at)
        if not isinstance(shape, list) or len(shape) > 8:
            raise InvalidManifestError(f"{at}.shape: expected a list of dimensions")
        if not all(type(d) is int and -1 <= d <= 2**31 for d in shape):
            raise InvalidManifestError(f"{at}.shape: dimensions must be integers")
    scoring = data.get("scoring")
    if scoring is not None:
        # Optional: how the model's scoring uses state (state.features.ScoringUse).
        blend = obj(scoring, f"{where}.scoring").get("blend")
        if isinstance(blend, dict) and len(blend) > MAX_FEATURE_FIELDS:
            raise InvalidManifestError(f"{where}.scoring.blend: too many terms")
        try:
            ScoringUse.from_dict(scoring)
        except ValueError as ex:
            raise InvalidManifestError(f"{where}: {str(ex)[:200]}") from ex
    return FeatureSpec.from_dict(data)


def _artifacts(value: Any, limits: PackageLimits) -> dict[str, dict[str, Any]]:
    table = obj(value, "artifacts")
    out: dict[str, dict[str, Any]] = {}
    for name, info in table.items():
        at = f"artifacts.{str(name)[:80]}"
        entry = obj(info, at)
        only_keys(entry, {"sha256", "size"}, at)
        digest = get(entry, "sha256", at)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise InvalidManifestError(f"{at}: sha256 must be 64 lower-case hex digits")
        size = integer(entry, "size", 0, limits.max_member_bytes, at)
        out[name] = {"sha256": digest, "size": size}
    return out
