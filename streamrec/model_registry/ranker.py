"""Ranking model (Keras): scores (user, candidate) pairs from user features, item
features and the retrieval score. Input arrays are built by udfs.ranking.ranker_inputs,
the same code the streaming job uses.
"""

from __future__ import annotations

import numpy as np


def build_ranker(
    n_categories: int, user_dense_width: int, item_dense_width: int, hidden: int = 64
) -> object:
    """Return a keras.Model mapping ranker inputs to one logit per pair."""
    import keras

    user = keras.Input((user_dense_width,), name="user_dense")
    category = keras.Input((1,), dtype="int32", name="item_category")
    item = keras.Input((item_dense_width,), name="item_dense")
    score = keras.Input((1,), name="retrieval_score")
    match = keras.Input((1,), name="affinity_match")
    cat_vec = keras.layers.Flatten()(keras.layers.Embedding(n_categories + 1, 8)(category))
    x = keras.layers.Concatenate()([user, cat_vec, item, score, match])
    x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dense(hidden // 2, activation="relu")(x)
    out = keras.layers.Dense(1, name="logit")(x)
    return keras.Model([user, category, item, score, match], out, name="ranker")


def fit_ranker(
    ranker: object,
    inputs: dict[str, np.ndarray],
    labels: np.ndarray,
    *,
    epochs: int = 2,
    batch_size: int = 2048,
    seed: int = 0,
) -> list[float]:
    """Binary cross-entropy on logits; returns loss per epoch."""
    import keras

    keras.utils.set_random_seed(seed)
    ranker.compile(  # type: ignore[attr-defined]
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    hist = ranker.fit(
        inputs, labels.astype(np.float32), epochs=epochs, batch_size=batch_size, verbose=0
    )  # type: ignore[attr-defined]
    return [float(x) for x in hist.history["loss"]]
