"""A decoding-only stand-in for Kashgari's CRF layer.

Kashgari serialises its ``KConditionalRandomField`` into ``model_config.json``;
rebuilding that architecture needs a layer class of that name. This one holds
the same ``transitions`` weight and runs the same Viterbi decoding
(``tensorflow_addons.text.crf_decode``), so a saved model predicts identical
tags without importing Kashgari, which plain pip cannot install next to
TensorFlow 2.15.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

#: Class name Kashgari writes for its CRF layer in ``model_config.json``.
KASHGARI_CRF_CLASS_NAME = "KConditionalRandomField"


class ViterbiCRF(tf.keras.layers.Layer):  # type: ignore[misc]
    """CRF output layer for inference: unary scores in, one-hot Viterbi path out."""

    def __init__(self, **config: Any) -> None:
        # Kashgari stores the transition matrix and sizes in the layer config;
        # the real values come from the weights file, so only keep Keras' own keys.
        keras_keys = ("name", "trainable", "dtype")
        super().__init__(**{key: config[key] for key in keras_keys if key in config})
        self.supports_masking = True

    def build(self, input_shape: tf.TensorShape) -> None:
        num_tags = int(input_shape[-1])
        self.transitions = self.add_weight(
            name="transitions", shape=[num_tags, num_tags], trainable=False
        )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        import tensorflow_addons as tfa

        if mask is None:
            lengths = tf.fill([tf.shape(inputs)[0]], tf.shape(inputs)[1])
        else:
            lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=-1)
        best_paths, _ = tfa.text.crf_decode(inputs, self.transitions, lengths)
        return tf.one_hot(best_paths, tf.shape(inputs)[-1], dtype=inputs.dtype)

    def compute_mask(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> None:
        return None
