"""Ranking model (Keras), the training side. Its architecture is model_package.ranker_net,
shared with package loading.
"""

from __future__ import annotations

import numpy as np

from streamrec.model_package.ranker_net import RankerSpec, build_ranker_from_spec
from streamrec.model_package.spec_fields import DenseSpec


def build_ranker(
    n_categories: int, user_dense_width: int, item_dense_width: int, hidden: int = 64
) -> object:
    """Return a keras.Model mapping ranker inputs to one logit per pair (for training)."""
    layers = (DenseSpec(hidden, "relu"), DenseSpec(hidden // 2, "relu"))
    return build_ranker_from_spec(
        RankerSpec(n_categories, user_dense_width, item_dense_width, hidden=layers)
    )


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
