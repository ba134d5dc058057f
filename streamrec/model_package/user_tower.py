"""The user tower's architecture: a spec of plain numbers and allow-listed names, and the
code that builds the Keras model from it.

Training (model_registry.two_tower) and loading a package (model_package.package) both
build the tower here, so a package carries the spec and the weights, never an
architecture to deserialize. The tower shares one item-id embedding table with the item
tower, so a user's recent items and candidate items live in one space; its output is
unit-normalized and the retrieval score is the dot product.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamrec.model_package.spec_fields import (
    MAX_UNITS,
    DenseSpec,
    architecture,
    check_weight_shapes,
    dense_stack,
    hidden_layers_of,
    integer,
)
from streamrec.state.features import RECENT_ITEMS_CAP

USER_TOWER_KIND = "two_tower_user/1"
"""The one user-tower architecture this code builds; a manifest must name it."""
MAX_RECENT_ITEMS = 1024
MAX_ACTIVITY_WIDTH = 1024
_USER_TOWER_KEYS = frozenset(
    [
        "kind",
        "n_items",
        "n_categories",
        "activity_width",
        "recent_items",
        "id_dim",
        "hidden",
        "embedding_dim",
    ]
)


@dataclass(frozen=True)
class UserTowerSpec:
    """The user tower's shape: inputs, id embedding, hidden Dense layers, output width.

    Layout: mean of the recent items' id embeddings ++ last item's id embedding ++
    category affinity ++ activity -> hidden Dense layers -> Dense(embedding_dim), unit norm.
    """

    n_items: int
    n_categories: int
    activity_width: int
    embedding_dim: int
    id_dim: int = 48
    hidden: tuple[DenseSpec, ...] = (DenseSpec(128, "relu"),)
    recent_items: int = RECENT_ITEMS_CAP

    def weight_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of ``model.get_weights()`` for a tower built from this spec, in order."""
        shapes: list[tuple[int, ...]] = [(self.n_items + 1, self.id_dim)]
        width = 2 * self.id_dim + self.n_categories + self.activity_width
        for layer in (*self.hidden, DenseSpec(self.embedding_dim)):
            shapes += [(width, layer.units), (layer.units,)]
            width = layer.units
        return shapes

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": USER_TOWER_KIND,
            "n_items": self.n_items,
            "n_categories": self.n_categories,
            "activity_width": self.activity_width,
            "recent_items": self.recent_items,
            "id_dim": self.id_dim,
            "hidden": [layer.to_dict() for layer in self.hidden],
            "embedding_dim": self.embedding_dim,
        }

    @classmethod
    def from_dict(cls, value: Any, where: str = "user_tower") -> UserTowerSpec:
        """Validate types and ranges only; the caller checks against the catalogue."""
        data = architecture(value, _USER_TOWER_KEYS, USER_TOWER_KIND, where)
        return cls(
            n_items=integer(data, "n_items", 1, 2**31 - 2, where),
            n_categories=integer(data, "n_categories", 1, 2**31 - 2, where),
            activity_width=integer(data, "activity_width", 1, MAX_ACTIVITY_WIDTH, where),
            recent_items=integer(data, "recent_items", 1, MAX_RECENT_ITEMS, where),
            id_dim=integer(data, "id_dim", 1, MAX_UNITS, where),
            hidden=dense_stack(data.get("hidden"), f"{where}.hidden"),
            embedding_dim=integer(data, "embedding_dim", 1, MAX_UNITS, where),
        )


def build_user_tower(spec: UserTowerSpec, ids: Any = None, *, zeros: bool = False) -> Any:
    """The user tower for ``spec``; ``ids`` shares an item-id embedding with an item tower.

    ``zeros`` skips random initialization when weights are assigned next (loading): at
    100K items the random id table costs more than the rest of the load.
    """
    import keras

    init = {"kernel_initializer": "zeros"} if zeros else {}
    if ids is None:
        ids = id_embedding(spec, zeros)
    recent = keras.Input((spec.recent_items,), dtype="int32", name="recent_items")
    last = keras.Input((1,), dtype="int32", name="last_item")
    affinity = keras.Input((spec.n_categories,), name="category_affinity")
    activity = keras.Input((spec.activity_width,), name="activity")
    recent_mean = keras.layers.GlobalAveragePooling1D(name="recent_mean")(ids(recent))
    last_vec = keras.layers.Flatten(name="last_vec")(ids(last))
    u = keras.layers.Concatenate()([recent_mean, last_vec, affinity, activity])
    for i, layer in enumerate(spec.hidden):
        u = keras.layers.Dense(
            layer.units, activation=layer.activation, name=f"user_hidden_{i}", **init
        )(u)
    u = keras.layers.Dense(spec.embedding_dim, name="user_output", **init)(u)
    u = keras.layers.UnitNormalization(name="user_embedding")(u)
    return keras.Model([recent, last, affinity, activity], u, name="user_tower")


def user_tower_spec(model: Any) -> UserTowerSpec:
    """Read the spec back from a tower made by build_user_tower (for packaging)."""
    hidden, layers = hidden_layers_of(model, "user_hidden_")
    inputs = {t.name: t.shape for t in model.inputs}
    ids = layers["item_id_embedding"]
    spec = UserTowerSpec(
        n_items=int(ids.input_dim) - 1,
        n_categories=int(inputs["category_affinity"][-1]),
        activity_width=int(inputs["activity"][-1]),
        embedding_dim=int(layers["user_output"].get_config()["units"]),
        id_dim=int(ids.output_dim),
        hidden=hidden,
        recent_items=int(inputs["recent_items"][-1]),
    )
    check_weight_shapes(model, spec, "user tower")
    return spec


def id_embedding(spec: UserTowerSpec, zeros: bool = False) -> Any:
    import keras

    # Index 0 is padding (see FeatureVectorizer).
    return keras.layers.Embedding(
        spec.n_items + 1,
        spec.id_dim,
        mask_zero=True,
        name="item_id_embedding",
        embeddings_initializer="zeros" if zeros else "uniform",
    )
