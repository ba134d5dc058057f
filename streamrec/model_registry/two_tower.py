"""Two-tower retrieval model (Keras): user tower over UserFeatures, item tower over item ids.

Both towers share one item-id embedding table, so a user's recent items and candidate
items live in one space. Outputs are unit-normalized; the retrieval score is the dot
product. The user tower is built in code from a UserTowerSpec of plain numbers and
allow-listed activation names, both in training and when a package is loaded: a package
carries the spec and the weights, never an architecture to deserialize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.model_registry.errors import InvalidManifestError
from streamrec.model_registry.spec_fields import (
    MAX_UNITS,
    DenseSpec,
    check_weight_shapes,
    dense_stack,
    hidden_layers_of,
    integer,
    obj,
    only_keys,
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
        data = obj(value, where)
        only_keys(data, _USER_TOWER_KEYS, where)
        if data.get("kind") != USER_TOWER_KIND:
            raise InvalidManifestError(f"{where}: kind must be {USER_TOWER_KIND!r}")
        return cls(
            n_items=integer(data, "n_items", 1, 2**31 - 2, where),
            n_categories=integer(data, "n_categories", 1, 2**31 - 2, where),
            activity_width=integer(data, "activity_width", 1, MAX_ACTIVITY_WIDTH, where),
            recent_items=integer(data, "recent_items", 1, MAX_RECENT_ITEMS, where),
            id_dim=integer(data, "id_dim", 1, MAX_UNITS, where),
            hidden=dense_stack(data.get("hidden"), f"{where}.hidden"),
            embedding_dim=integer(data, "embedding_dim", 1, MAX_UNITS, where),
        )


@dataclass
class Towers:
    user_tower: object  # keras.Model; typed loosely so importing this module stays cheap
    item_tower: object


def build_user_tower(spec: UserTowerSpec, ids: Any = None, *, zeros: bool = False) -> Any:
    """The user tower for ``spec``; ``ids`` shares an item-id embedding with an item tower.

    ``zeros`` skips random initialization when weights are assigned next (loading): at
    100K items the random id table costs more than the rest of the load.
    """
    import keras

    init = {"kernel_initializer": "zeros"} if zeros else {}
    if ids is None:
        ids = _id_embedding(spec, zeros)
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


def _id_embedding(spec: UserTowerSpec, zeros: bool = False) -> Any:
    import keras

    # Index 0 is padding (see FeatureVectorizer).
    return keras.layers.Embedding(
        spec.n_items + 1,
        spec.id_dim,
        mask_zero=True,
        name="item_id_embedding",
        embeddings_initializer="zeros" if zeros else "uniform",
    )


def build_towers(
    n_items: int,
    n_categories: int,
    activity_width: int,
    embedding_dim: int = 64,
    id_dim: int = 48,
    hidden: int = 128,
) -> Towers:
    """Build both towers for training. Item embedding index 0 is padding."""
    import keras

    spec = UserTowerSpec(
        n_items, n_categories, activity_width, embedding_dim, id_dim, (DenseSpec(hidden, "relu"),)
    )
    ids = _id_embedding(spec)
    user_tower = build_user_tower(spec, ids)

    item = keras.Input((1,), dtype="int32", name="item_index")
    category = keras.Input((1,), dtype="int32", name="item_category")
    item_vec = keras.layers.Flatten()(ids(item))
    cat_vec = keras.layers.Flatten()(keras.layers.Embedding(n_categories + 1, 16)(category))
    v = keras.layers.Concatenate()([item_vec, cat_vec])
    v = keras.layers.Dense(hidden, activation="relu")(v)
    v = keras.layers.Dense(embedding_dim)(v)
    v = keras.layers.UnitNormalization(name="item_embedding")(v)
    item_tower = keras.Model([item, category], v, name="item_tower")
    return Towers(user_tower, item_tower)


def fit_two_tower(
    towers: Towers,
    user_inputs: dict[str, np.ndarray],
    item_index: np.ndarray,
    item_category: np.ndarray,
    item_log_prob: np.ndarray,
    *,
    epochs: int = 3,
    batch_size: int = 1024,
    learning_rate: float = 3e-3,
    temperature: float = 0.05,
    seed: int = 0,
    mask_duplicates: bool = True,
) -> list[float]:
    """Train with in-batch sampled softmax; return the mean loss per epoch.

    ``item_log_prob`` (log frequency of each example's item) corrects the in-batch
    softmax for popular items appearing as negatives more often (logQ correction:
    the logit minus log q, so that the learned score estimates the full softmax's).
    ``mask_duplicates`` drops, from each row's negatives, the other examples of the
    row's own item: without it a popular item is its own negative several times per batch
    (an item with 1% of the examples appears ~10 times in a batch of 1024), which pushes
    exactly the items popularity would rank first down.
    """
    import tensorflow as tf

    user_tower, item_tower = towers.user_tower, towers.item_tower
    variables = user_tower.trainable_variables + [
        v
        for v in item_tower.trainable_variables
        if all(v is not w for w in user_tower.trainable_variables)
    ]
    optimizer = tf.keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True)
    def step(user_batch, items, cats, log_q):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            u = user_tower(user_batch, training=True)
            v = item_tower([items, cats], training=True)
            logits = tf.matmul(u, v, transpose_b=True) / temperature - log_q[None, :]
            labels = tf.range(tf.shape(logits)[0])
            if mask_duplicates:
                same = tf.equal(items, tf.transpose(items))  # items is [B, 1]
                clash = tf.logical_and(same, tf.logical_not(tf.eye(tf.shape(logits)[0]) > 0))
                logits = tf.where(clash, tf.fill(tf.shape(logits), -1e9), logits)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            )
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    rng = np.random.default_rng(seed)
    n = len(item_index)
    history: list[float] = []
    for _ in range(epochs):
        order = rng.permutation(n)
        losses = []
        for start in range(0, n - batch_size + 1, batch_size):
            sel = order[start : start + batch_size]
            batch = {k: arr[sel] for k, arr in user_inputs.items()}
            loss = step(batch, item_index[sel, None], item_category[sel, None], item_log_prob[sel])
            losses.append(float(loss))
        history.append(float(np.mean(losses)))
    return history


def item_embeddings(
    item_tower: object, item_category: np.ndarray, batch_size: int = 8192
) -> np.ndarray:
    """Embeddings of every catalogue item, row i for embedding index i + 1, float32 [N, D]."""
    n = len(item_category)
    out = []
    for start in range(0, n, batch_size):
        idx = np.arange(start + 1, min(n, start + batch_size) + 1, dtype=np.int32)[:, None]
        cats = item_category[start : start + batch_size, None].astype(np.int32)
        out.append(np.asarray(item_tower([idx, cats], training=False), dtype=np.float32))  # type: ignore[operator]
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
