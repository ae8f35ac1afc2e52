"""Keras ``EarlyStopping`` among the callbacks: its settings as params, its result as metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def find_early_stopping(callbacks: Sequence[Any]) -> Any:
    """The first ``tf.keras.callbacks.EarlyStopping`` in ``callbacks``, or None."""
    import tensorflow as tf

    for callback in callbacks:
        if isinstance(callback, tf.keras.callbacks.EarlyStopping):
            return callback
    return None


def early_stopping_params(stopper: Any) -> dict[str, Any]:
    """``early_stopping.*`` params of a stopper (empty for None)."""
    if stopper is None:
        return {}
    import numpy as np

    return {
        "early_stopping.monitor": stopper.monitor,
        "early_stopping.patience": stopper.patience,
        "early_stopping.min_delta": abs(stopper.min_delta),
        "early_stopping.mode": "max" if stopper.monitor_op is np.greater else "min",
        "early_stopping.restore_best_weights": stopper.restore_best_weights,
        "early_stopping.baseline": stopper.baseline,
    }


def early_stopping_metrics(stopper: Any, offset: int) -> dict[str, float]:
    """``stopped_epoch`` and ``restored_epoch`` as steps of the run (empty if it did not stop)."""
    if stopper is None:
        return {}
    metrics: dict[str, float] = {}
    if stopper.stopped_epoch:
        metrics["stopped_epoch"] = stopper.stopped_epoch + offset
    best_epoch = getattr(stopper, "best_epoch", None)
    if stopper.restore_best_weights and stopper.stopped_epoch and best_epoch is not None:
        metrics["restored_epoch"] = best_epoch + offset
    return metrics
