"""The numbers Keras hands a callback, as MLflow metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_number(value: Any) -> bool:
    """Whether ``value`` converts to a float (Keras logs may hold tensors, arrays or text)."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def epoch_metrics(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """Every numeric entry of an epoch's Keras logs."""
    return {key: float(value) for key, value in (logs or {}).items() if is_number(value)}


def batch_metrics(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """A batch's running metrics as ``train_step/<name>`` (Keras' bookkeeping keys left out)."""
    return {
        f"train_step/{key}": float(value)
        for key, value in (logs or {}).items()
        if is_number(value) and key not in ("batch", "size")
    }


def learning_rate(tf_model: Any) -> dict[str, float]:
    """``learning_rate`` of the model's optimizer now (a schedule's rate at the last batch)."""
    import tensorflow as tf

    optimizer = getattr(tf_model, "optimizer", None)
    if optimizer is None:
        return {}
    try:
        rate = optimizer.learning_rate
        if callable(rate) and not isinstance(rate, tf.Variable):
            rate = rate(optimizer.iterations)
        return {"learning_rate": float(tf.keras.backend.get_value(rate))}
    except (AttributeError, TypeError, ValueError):
        return {}
