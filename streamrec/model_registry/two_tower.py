"""Two-tower retrieval model (Keras), the training side: the item tower, and fitting both
towers with in-batch negatives. The user tower's architecture is model_package.user_tower,
shared with package loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.model_package.spec_fields import DenseSpec
from streamrec.model_package.user_tower import UserTowerSpec, build_user_tower, id_embedding


@dataclass
class Towers:
    user_tower: object  # keras.Model; typed loosely so importing this module stays cheap
    item_tower: object



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
    ids = id_embedding(spec)
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
