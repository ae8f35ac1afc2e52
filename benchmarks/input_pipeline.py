"""Keras' generator input without tf.data's autotuning thread, in every variant alike.

Kashgari's ``fit`` hands Keras a Python generator; Keras wraps it in a
``tf.data`` pipeline that ends in ``prefetch(tf.data.AUTOTUNE)``, so its
iterator starts TensorFlow's autotuning thread (``tf_data_model``). That
thread sleeps between optimisations. When the iterator is destroyed (when
``fit`` returns, or later when a reference cycle holding it is collected, or at
interpreter exit), the thread that destroys it waits for the autotuning
thread, and on TensorFlow 2.15 that wait can last until the sleep ends: a
process sits idle, at random (27-31 s in the 10-epoch fits measured). A stack
of a stalled process shows it (``RootDataset::Iterator::~Iterator`` waiting on
the thread in ``Model::OptimizeLoop``); docs/benchmarks.md has the measurements.

The stall is TensorFlow's, paid with or without a tracker, and it lands in
whichever variant's process it likes, so the benchmarks turn the autotuning
off for Keras' generator input in every variant (``--tf-data-autotune`` keeps
it). Prefetching stays; only the tuning thread goes. Kashgari's ``predict``
and ``evaluate`` pass arrays, not a generator: their pipelines keep the
autotuning, as users run them.
"""

from __future__ import annotations

from typing import Any


def turn_off_generator_autotune() -> None:
    """Make Keras' generator input pipelines run with ``autotune.enabled = False``.

    Idempotent. Affects only the ``GeneratorDataAdapter`` of the Keras that
    ``tf.keras`` is (Keras 2), which is what Kashgari's ``fit`` uses.
    """
    import tensorflow as tf
    from keras.src.engine import data_adapter

    if not tf.keras.Model.fit.__module__.startswith("keras.src."):
        raise RuntimeError(
            f"tf.keras is not Keras 2's keras.src ({tf.keras.Model.fit.__module__}): "
            "the patch would change nothing"
        )
    adapter = data_adapter.GeneratorDataAdapter
    if getattr(adapter, "_autotune_turned_off", False):
        return
    original = adapter.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        options = tf.data.Options()
        options.autotune.enabled = False
        self._dataset = self._dataset.with_options(options)

    adapter.__init__ = __init__
    adapter._autotune_turned_off = True
