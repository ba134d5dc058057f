"""The ranker's architecture: a RankerSpec of plain numbers and allow-listed names, and the
code that builds the Keras model from it, both in training (model_registry.ranker) and
when a package is loaded. It scores (user, candidate) pairs from user features, item
features and the retrieval score; the input arrays come from scoring.ranking.ranker_inputs.
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

RANKER_KIND = "ranker_mlp/1"
"""The one ranker architecture this code builds; a manifest must name it."""
_RANKER_KEYS = frozenset(
    {"kind", "n_categories", "user_dense_width", "item_dense_width", "category_dim", "hidden"}
)


@dataclass(frozen=True)
class RankerSpec:
    """Inputs user_dense, item_category, item_dense, retrieval_score, affinity_match;
    the category through an Embedding(n_categories + 1, category_dim), everything
    concatenated -> hidden Dense layers -> Dense(1) logit."""

    n_categories: int
    user_dense_width: int
    item_dense_width: int
    category_dim: int = 8
    hidden: tuple[DenseSpec, ...] = (DenseSpec(64, "relu"), DenseSpec(32, "relu"))

    def weight_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of ``model.get_weights()`` for a ranker built from this spec, in order."""
        shapes: list[tuple[int, ...]] = [(self.n_categories + 1, self.category_dim)]
        width = self.user_dense_width + self.category_dim + self.item_dense_width + 2
        for layer in (*self.hidden, DenseSpec(1)):
            shapes += [(width, layer.units), (layer.units,)]
            width = layer.units
        return shapes

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": RANKER_KIND,
            "n_categories": self.n_categories,
            "user_dense_width": self.user_dense_width,
            "item_dense_width": self.item_dense_width,
            "category_dim": self.category_dim,
            "hidden": [layer.to_dict() for layer in self.hidden],
        }

    @classmethod
    def from_dict(cls, value: Any, where: str = "ranker") -> RankerSpec:
        """Validate types and ranges only; the caller checks against the catalogue."""
        data = architecture(value, _RANKER_KEYS, RANKER_KIND, where)
        return cls(
            n_categories=integer(data, "n_categories", 1, 2**31 - 2, where),
            user_dense_width=integer(data, "user_dense_width", 1, 2**31 - 2, where),
            item_dense_width=integer(data, "item_dense_width", 0, MAX_UNITS, where),
            category_dim=integer(data, "category_dim", 1, MAX_UNITS, where),
            hidden=dense_stack(data.get("hidden"), f"{where}.hidden"),
        )


def build_ranker_from_spec(spec: RankerSpec, *, zeros: bool = False) -> Any:
    """The ranker for ``spec``; ``zeros`` skips random initialization (weights follow)."""
    import keras

    init = {"kernel_initializer": "zeros"} if zeros else {}
    user = keras.Input((spec.user_dense_width,), name="user_dense")
    category = keras.Input((1,), dtype="int32", name="item_category")
    item = keras.Input((spec.item_dense_width,), name="item_dense")
    score = keras.Input((1,), name="retrieval_score")
    match = keras.Input((1,), name="affinity_match")
    embed = keras.layers.Embedding(
        spec.n_categories + 1,
        spec.category_dim,
        name="ranker_category_embedding",
        embeddings_initializer="zeros" if zeros else "uniform",
    )
    cat_vec = keras.layers.Flatten()(embed(category))
    x = keras.layers.Concatenate()([user, cat_vec, item, score, match])
    for i, layer in enumerate(spec.hidden):
        x = keras.layers.Dense(
            layer.units, activation=layer.activation, name=f"ranker_hidden_{i}", **init
        )(x)
    out = keras.layers.Dense(1, name="logit", **init)(x)
    return keras.Model([user, category, item, score, match], out, name="ranker")


def ranker_spec(model: Any) -> RankerSpec:
    """Read the spec back from a ranker made by build_ranker_from_spec (for packaging)."""
    hidden, layers = hidden_layers_of(model, "ranker_hidden_")
    inputs = {t.name: t.shape for t in model.inputs}
    embed = layers["ranker_category_embedding"]
    spec = RankerSpec(
        n_categories=int(embed.input_dim) - 1,
        user_dense_width=int(inputs["user_dense"][-1]),
        item_dense_width=int(inputs["item_dense"][-1]),
        category_dim=int(embed.output_dim),
        hidden=hidden,
    )
    check_weight_shapes(model, spec, "ranker")
    return spec
