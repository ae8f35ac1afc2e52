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


def restored_epoch(stopper: Any) -> int | None:
    """The epoch (Keras' 0-based count) whose weights the stopper put back, or None."""
    if stopper is None or not stopper.restore_best_weights or not stopper.stopped_epoch:
        return None
    best_epoch = getattr(stopper, "best_epoch", None)
    return None if best_epoch is None else int(best_epoch)


def early_stopping_metrics(stopper: Any, offset: int) -> dict[str, float]:
    """``stopped_epoch`` and ``restored_epoch`` as steps of the run (empty if it did not stop)."""
    if stopper is None:
        return {}
    metrics: dict[str, float] = {}
    if stopper.stopped_epoch:
        metrics["stopped_epoch"] = stopper.stopped_epoch + offset
    restored = restored_epoch(stopper)
    if restored is not None:
        metrics["restored_epoch"] = restored + offset
    return metrics
