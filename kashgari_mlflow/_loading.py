"""Read the files Kashgari's ``save`` writes, with errors that name the bad file.

Kashgari's own ``load_model`` imports whatever ``module.Class`` a
``model_config.json`` names (``pydoc.locate``), so loading a model folder from
someone else can run their code. :func:`check_class_paths` refuses any class
outside Kashgari unless the caller allows it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

MODEL_CONFIG_FILE = "model_config.json"
MODEL_WEIGHTS_FILE = "model_weights.h5"
EMBED_WEIGHTS_FILE = "embed_model_weights.h5"

_REQUIRED_KEYS = ("__class_name__", "__module__", "embedding", "text_processor", "label_processor")
_TRUSTED_MODULE_PREFIXES = ("kashgari.",)


class ModelFilesError(ValueError):
    """A saved Kashgari model folder is missing a file or holds a damaged one."""


def read_model_config(model_dir: str) -> dict[str, Any]:
    """Parse ``model_config.json`` from a Kashgari model folder.

    Raises:
        ModelFilesError: If the file is missing, not JSON, or lacks Kashgari's keys.
    """
    path = os.path.join(model_dir, MODEL_CONFIG_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError as err:
        raise ModelFilesError(
            f"{path} is missing: the folder is not a model saved by Kashgari or kashgari_mlflow."
        ) from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFilesError(
            f"{path} is not valid JSON ({err}); the file is truncated or corrupted. "
            "Log or save the model again."
        ) from err
    missing = [key for key in (*_REQUIRED_KEYS, "tf_model") if key not in config]
    if not isinstance(config, dict) or missing:
        raise ModelFilesError(
            f"{path} lacks the keys {missing} that Kashgari writes; it is not a Kashgari model "
            "config or it was edited by hand."
        )
    return config


def class_paths(config: dict[str, Any]) -> Iterator[str]:
    """Every ``module.Class`` that Kashgari would import to load this config."""
    blocks: Iterable[dict[str, Any]] = (
        config,
        config["embedding"],
        config["text_processor"],
        config["label_processor"],
    )
    for block in blocks:
        yield f"{block['__module__']}.{block['__class_name__']}"


def check_class_paths(
    config: dict[str, Any], *, trusted_modules: Iterable[str] = (), allow_any: bool = False
) -> None:
    """Refuse a config that would import code from outside Kashgari.

    Args:
        config: A parsed ``model_config.json``.
        trusted_modules: Extra top-level modules allowed, e.g. those shipped in
            the model's own ``code_paths``.
        allow_any: Skip the check (only for models from a source you trust).

    Raises:
        ModelFilesError: If a class path lies outside the trusted modules.
    """
    if allow_any:
        return
    trusted = tuple(_TRUSTED_MODULE_PREFIXES) + tuple(f"{name}." for name in trusted_modules)
    untrusted = [path for path in class_paths(config) if not path.startswith(trusted)]
    if untrusted:
        raise ModelFilesError(
            f"model_config.json asks to import {untrusted}, which is neither Kashgari nor code "
            "shipped with the model (code_paths). Loading it would run that code. If you trust "
            "the model's source, pass allow_untrusted_classes=True to kashgari_mlflow.load_model."
        )


def rebuild_tf_model(model_dir: str, config: dict[str, Any]) -> Any:
    """Rebuild the Keras network from the config and load its trained weights.

    Raises:
        ModelFilesError: If the architecture cannot be rebuilt or the weights file
            is missing or damaged.
    """
    import tensorflow as tf

    from kashgari_mlflow._crf import KASHGARI_CRF_CLASS_NAME, ViterbiCRF

    custom_objects: dict[str, Any] = {KASHGARI_CRF_CLASS_NAME: ViterbiCRF}
    custom_objects.update(_kashgari_extra_custom_objects(config))
    try:
        tf_model = tf.keras.models.model_from_json(
            json.dumps(config["tf_model"]), custom_objects=custom_objects
        )
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFilesError(
            f"The network in {os.path.join(model_dir, MODEL_CONFIG_FILE)} cannot be rebuilt "
            f"with TensorFlow {tf.__version__}: {err}"
        ) from err
    weights = os.path.join(model_dir, MODEL_WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise ModelFilesError(f"{weights} is missing: the model folder is incomplete.")
    try:
        tf_model.load_weights(weights)
    except (OSError, ValueError, KeyError) as err:
        raise ModelFilesError(
            f"{weights} cannot be read ({err}); the file is truncated, corrupted or belongs "
            "to another model."
        ) from err
    return tf_model


def diagnose_load_failure(model_dir: str, error: Exception) -> ModelFilesError:
    """Name the damaged or missing file after Kashgari's own loader failed.

    Args:
        model_dir: The folder Kashgari's ``save`` wrote.
        error: What Kashgari's ``load_model`` raised.

    Returns:
        An error naming the first weights file that is missing or unreadable,
        or, if both read fine, one that carries Kashgari's message.
    """
    for name in (MODEL_WEIGHTS_FILE, EMBED_WEIGHTS_FILE):
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            return ModelFilesError(f"{path} is missing: the model folder is incomplete.")
        problem = _unreadable_hdf5(path)
        if problem:
            return ModelFilesError(
                f"{path} cannot be read ({problem}); the file is truncated, corrupted or "
                "belongs to another model."
            )
    return ModelFilesError(f"Kashgari could not load the model in {model_dir}: {error}")


def _unreadable_hdf5(path: str) -> str | None:
    """Why an HDF5 file cannot be read in full, or None if every dataset reads."""
    import h5py

    def read(_: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            item[()]

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(read)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        return str(err)
    return None


def _kashgari_extra_custom_objects(config: dict[str, Any]) -> dict[str, Any]:
    """Custom layers beyond the CRF (transformer embeddings) need Kashgari itself."""
    layers = config["tf_model"].get("config", {}).get("layers", [])
    foreign = [
        layer
        for layer in layers
        if not str(layer.get("module") or "keras").startswith("keras")
        and layer.get("class_name") != "KConditionalRandomField"
    ]
    if not foreign:
        return {}
    from kashgari_mlflow._compat import import_kashgari

    kashgari = import_kashgari(reason="this model's network uses layers defined by Kashgari")
    objects: dict[str, Any] = dict(kashgari.custom_objects)
    try:
        from bert4keras.layers import custom_objects as bert_objects

        objects.update(bert_objects)
    except ImportError:
        pass
    return objects
