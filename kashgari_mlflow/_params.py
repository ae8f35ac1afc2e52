"""Turn a Kashgari model into flat MLflow params that never break a run.

MLflow refuses param values over ``MAX_PARAM_VAL_LENGTH`` characters and
keys over ``MAX_ENTITY_KEY_LENGTH`` (both in ``mlflow.utils.validation``), and
a param cannot change value within a run. Long values are cut with a
warning; the unabridged Kashgari config is logged as a JSON artifact instead.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

from kashgari_mlflow._compat import package_version
from kashgari_mlflow._keys import mlflow_key
from kashgari_mlflow._redaction import Redactor

_TRUNCATION_MARK = "...[truncated]"


def mlflow_limits() -> tuple[int, int, int]:
    """``(max key length, max value length, max params per batch)`` of the installed MLflow."""
    from mlflow.utils import validation

    return (
        int(getattr(validation, "MAX_ENTITY_KEY_LENGTH", 250)),
        int(getattr(validation, "MAX_PARAM_VAL_LENGTH", 6000)),
        int(getattr(validation, "MAX_PARAMS_TAGS_PER_BATCH", 100)),
    )


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Flatten nested dicts into dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if isinstance(value, Mapping) and value:
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = value


def to_param_value(value: Any) -> str:
    """A param value as MLflow shows it: JSON for lists and dicts, ``str`` otherwise."""
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def make_safe(params: Mapping[str, Any]) -> dict[str, str]:
    """Stringify, redact secrets, clean keys and cut over-long values, with warnings.

    Secrets are redacted before values are cut, so no prefix of one survives
    (see :mod:`kashgari_mlflow._redaction`).

    Args:
        params: Raw param values.

    Returns:
        Params MLflow will accept.
    """
    max_key, max_value, _ = mlflow_limits()
    safe: dict[str, str] = {}
    cut: list[str] = []
    redacted = Redactor().mapping(
        {str(key): value for key, value in params.items()}, "params", to_param_value
    )
    for raw_key, value in redacted.items():
        key = mlflow_key(raw_key)[:max_key]
        if len(value) > max_value:
            value = value[: max_value - len(_TRUNCATION_MARK)] + _TRUNCATION_MARK
            cut.append(key)
        safe[key] = value
    if cut:
        warnings.warn(
            f"Param values of {cut} are longer than MLflow's limit of {max_value} characters "
            "and were truncated; the full values are in the run's kashgari/model_config.json "
            "artifact.",
            stacklevel=3,
        )
    return safe


def _optimizer_params(tf_model: Any) -> dict[str, Any]:
    optimizer = getattr(tf_model, "optimizer", None)
    if optimizer is None:
        return {}
    params: dict[str, Any] = {"optimizer.name": type(optimizer).__name__}
    try:
        config = optimizer.get_config()
    except (AttributeError, NotImplementedError, TypeError):
        return params
    learning_rate = config.get("learning_rate")
    if isinstance(learning_rate, Mapping):  # a schedule: class name and its settings
        params["optimizer.learning_rate"] = learning_rate.get("class_name", "schedule")
        flatten("optimizer.learning_rate", learning_rate.get("config", {}), params)
    elif learning_rate is not None:
        params["optimizer.learning_rate"] = _as_float32(learning_rate)
    for key in ("beta_1", "beta_2", "epsilon", "momentum", "rho", "clipnorm", "clipvalue"):
        if config.get(key) is not None:
            params[f"optimizer.{key}"] = _as_float32(config[key])
    return params


def _as_float32(value: Any) -> Any:
    """A float32 optimizer setting as the number the user typed: 0.01, not 0.009999999776."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return value
    import numpy as np

    return float(str(np.float32(value)))


def _embedding_params(embedding: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"embedding.class": type(embedding).__name__}
    settings: dict[str, Any] = {
        "embedding_size": getattr(embedding, "embedding_size", None),
        "max_position": getattr(embedding, "max_position", None),
        "segment": getattr(embedding, "segment", None),
    }
    settings.update(getattr(embedding, "kwargs", {}) or {})
    for attribute in ("w2v_path", "w2v_kwargs", "vocab_path", "config_path", "checkpoint_path"):
        if hasattr(embedding, attribute):
            settings[attribute] = getattr(embedding, attribute)
    for key, value in settings.items():
        flatten(f"embedding.{key}", value, params)
    return params


def model_params(kash_model: Any) -> dict[str, Any]:
    """Everything about a Kashgari model worth comparing across runs.

    Args:
        kash_model: A built Kashgari task model.

    Returns:
        Flat, not yet length-checked params (see :func:`make_safe`).
    """
    params: dict[str, Any] = {
        "model.class": type(kash_model).__name__,
        "model.module": type(kash_model).__module__,
        "sequence_length": getattr(kash_model, "sequence_length", None),
    }
    flatten("hyper_parameters", getattr(kash_model, "hyper_parameters", None) or {}, params)
    params.update(_embedding_params(kash_model.embedding))
    text_vocab = getattr(kash_model.text_processor, "vocab2idx", None) or {}
    label_vocab = getattr(kash_model.label_processor, "vocab2idx", None) or {}
    params["vocab_size"] = len(text_vocab)
    labels = [label for label in label_vocab if not (label.startswith("[") and label.endswith("]"))]
    params["num_labels"] = len(labels)
    params["labels"] = sorted(labels)
    if kash_model.tf_model is not None:
        params["num_trainable_weights"] = int(
            sum(int(w.shape.num_elements() or 0) for w in kash_model.tf_model.trainable_weights)
        )
        params.update(_optimizer_params(kash_model.tf_model))
    return params


def version_tags() -> dict[str, str]:
    """Library versions, as run tags."""
    tags = {}
    for distribution in (
        "kashgari",
        "tensorflow",
        "tensorflow-addons",
        "mlflow",
        "kashgari-mlflow",
    ):
        version = package_version(distribution)
        if version is not None:
            tags[f"versions.{distribution}"] = version
    return tags
