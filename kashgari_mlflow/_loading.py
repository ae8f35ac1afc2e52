"""Read the files Kashgari's ``save`` writes, with errors that name the bad file.

Kashgari's own ``load_model`` imports whatever ``module.Class`` a
``model_config.json`` names (``pydoc.locate``), so loading a model folder from
someone else can run their code. Here every file is checked first (see
:mod:`kashgari_mlflow._safety`) and :func:`load_kashgari_model` builds the
Kashgari model from classes resolved against an allowlist.
"""

from __future__ import annotations

import json
import os
from typing import Any

MODEL_CONFIG_FILE = "model_config.json"
MODEL_WEIGHTS_FILE = "model_weights.h5"
EMBED_WEIGHTS_FILE = "embed_model_weights.h5"

_REQUIRED_KEYS = ("__class_name__", "__module__", "embedding", "text_processor", "label_processor")


class ModelFilesError(ValueError):
    """A saved Kashgari model folder is missing a file or holds a damaged one."""


def read_model_config(model_dir: str) -> dict[str, Any]:
    """Parse ``model_config.json`` from a Kashgari model folder.

    Raises:
        ModelFilesError: If the file is missing, not JSON, or lacks Kashgari's keys.
    """
    from kashgari_mlflow._safety.limits import MAX_CONFIG_BYTES
    from kashgari_mlflow._safety.model_folder import file_inside

    path = os.path.join(model_dir, MODEL_CONFIG_FILE)
    try:
        if os.path.getsize(file_inside(model_dir, MODEL_CONFIG_FILE)) > MAX_CONFIG_BYTES:
            raise ModelFilesError(
                f"{path} is over {MAX_CONFIG_BYTES:,} bytes; no Kashgari model config is that "
                "large. The model is refused."
            )
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError as err:
        raise ModelFilesError(
            f"{path} is missing: the folder is not a model saved by Kashgari or kashgari_mlflow."
        ) from err
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
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
    check_model_config(config)
    return config


def check_model_config(config: dict[str, Any]) -> None:
    """Refuse a config whose Keras networks would run code or whose sizes are over the limits.

    Raises:
        ModelFilesError: Naming the block, the layer and the reason.
    """
    from kashgari_mlflow._safety.keras_configs import check_keras_config, keras_configs
    from kashgari_mlflow._safety.limits import SIZE_KEYS

    for where, keras_config in keras_configs(config):
        check_keras_config(keras_config, where)
    for role in ("", "embedding"):
        block = config[role] if role else config
        settings = block.get("config") if isinstance(block, dict) else None
        if not isinstance(settings, dict):
            raise ModelFilesError(f"model_config.json: {role or 'the model'} has no config block.")
        for key, value in settings.items():
            limit = SIZE_KEYS.get(key)
            if limit and isinstance(value, int) and value > limit:
                raise ModelFilesError(
                    f"model_config.json: {role or 'the model'} declares {key}={value:,}, over "
                    f"the limit of {limit:,}. The model is refused."
                )


def rebuild_tf_model(model_dir: str, config: dict[str, Any]) -> Any:
    """Rebuild the Keras network from the config and load its trained weights.

    Raises:
        ModelFilesError: If the architecture cannot be rebuilt or the weights file
            is missing or damaged.
    """
    import tensorflow as tf

    from kashgari_mlflow._crf import KASHGARI_CRF_CLASS_NAME, ViterbiCRF

    weights = checked_weights_file(model_dir, MODEL_WEIGHTS_FILE)
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
    except (MemoryError, tf.errors.ResourceExhaustedError) as err:
        raise _too_big(model_dir) from err
    load_checked_weights(tf_model, weights)
    return tf_model


def _too_big(model_dir: str) -> ModelFilesError:
    return ModelFilesError(
        f"The network in {os.path.join(model_dir, MODEL_CONFIG_FILE)} needs more memory than "
        "this machine has; its sizes are beyond anything Kashgari builds. The model is refused."
    )


def checked_weights_file(model_dir: str, name: str) -> str:
    """The path of ``model_dir/name`` once the file passed every check that needs no network.

    Raises:
        ModelFilesError: If the file is missing, links outside the folder, or
            reaches outside itself, holds non-numbers or declares oversized data.
    """
    from kashgari_mlflow._safety.hdf5 import check_weights_file
    from kashgari_mlflow._safety.model_folder import file_inside

    weights = os.path.join(model_dir, name)
    if not os.path.isfile(weights):
        raise ModelFilesError(f"{weights} is missing: the model folder is incomplete.")
    weights = file_inside(model_dir, name)
    check_weights_file(weights)
    return weights


def load_checked_weights(keras_model: Any, weights: str) -> None:
    """Load a file from :func:`checked_weights_file` once its shapes match ``keras_model``.

    Raises:
        ModelFilesError: If the file declares shapes other than the network's, or
            cannot be read.
    """
    from kashgari_mlflow._safety.hdf5 import check_weight_shapes

    check_weight_shapes(weights, keras_model)
    try:
        keras_model.load_weights(weights)
    except (OSError, ValueError, KeyError) as err:
        raise ModelFilesError(
            f"{weights} cannot be read ({err}); the file is truncated, corrupted or belongs "
            "to another model."
        ) from err


def load_kashgari_model(model_dir: str, config: dict[str, Any], classes: dict[str, type]) -> Any:
    """Kashgari's ``ABCTaskModel.load_model``, with classes resolved and files checked first.

    Kashgari's version re-reads the config and resolves every class with
    ``pydoc.locate``; this one takes the checked config and the classes from
    :func:`kashgari_mlflow._safety.classes.resolve_classes`.

    Args:
        model_dir: The folder Kashgari's ``save`` wrote.
        config: Its ``model_config.json``, from :func:`read_model_config`.
        classes: The class of each role (``model``, ``embedding``...).

    Returns:
        The Kashgari model with its trained weights.
    """
    import kashgari
    import tensorflow as tf
    from kashgari.layers import KConditionalRandomField

    weights = checked_weights_file(model_dir, MODEL_WEIGHTS_FILE)
    embed_weights = checked_weights_file(model_dir, EMBED_WEIGHTS_FILE)

    def instance(role: str, block: dict[str, Any]) -> Any:
        obj = classes[role](**block["config"])
        if hasattr(obj, "_override_load_model"):
            obj._override_load_model(block)  # builds the embedding's Keras model
        return obj

    model = instance("model", config)
    model.embedding = embedding_without_its_files(classes["embedding"], config["embedding"])
    model.text_processor = instance("text_processor", config["text_processor"])
    model.label_processor = instance("label_processor", config["label_processor"])
    if model.embedding.vocab2idx is _NOT_READ:
        # What load_embed_vocab would have read is the vocabulary training gave the
        # text processor (Kashgari's setup_text_processor copies it there).
        model.embedding.vocab2idx = model.text_processor.vocab2idx
    try:
        model.tf_model = tf.keras.models.model_from_json(
            json.dumps(config["tf_model"]), custom_objects=kashgari.custom_objects
        )
    except (MemoryError, tf.errors.ResourceExhaustedError) as err:
        raise _too_big(model_dir) from err
    if isinstance(model.tf_model.layers[-1], KConditionalRandomField):
        model.crf_layer = model.tf_model.layers[-1]
    load_checked_weights(model.tf_model, weights)
    load_checked_weights(model.embedding.embed_model, embed_weights)
    return model


#: Stands for the vocabulary an embedding did not read from its own files.
_NOT_READ: Any = object()


def embedding_without_its_files(cls: type[Any], block: dict[str, Any]) -> Any:
    """An embedding rebuilt from its config, without opening the files the config names.

    Kashgari's embeddings read their vocabulary in ``__init__`` (``load_embed_vocab``):
    ``WordEmbedding`` loads the whole ``w2v_path`` file and ``TransformerEmbedding``
    reads ``vocab_path``, paths written by the machine that trained the model. A
    loaded model needs neither (its weights and vocabulary are in the model folder),
    and a crafted config would make the loader open any path: a file outside the
    folder, ``/dev/zero``, a FIFO. ``vocab2idx`` is left as ``_NOT_READ`` for
    embeddings that would have read one.

    Args:
        cls: The embedding class, from :func:`kashgari_mlflow._safety.classes.resolve_classes`.
        block: The ``embedding`` block of ``model_config.json``.

    Returns:
        The embedding with its Keras model built from the config.
    """
    from kashgari.embeddings.abc_embedding import ABCEmbedding

    reads_files = getattr(cls, "load_embed_vocab", None) is not ABCEmbedding.load_embed_vocab
    embedding = object.__new__(cls)
    # An instance attribute shadows the method while __init__ runs, then goes.
    embedding.load_embed_vocab = lambda: _NOT_READ if reads_files else None
    try:
        cls.__init__(embedding, **block["config"])
    finally:
        del embedding.load_embed_vocab
    embedding._override_load_model(block)  # builds the embedding's Keras model
    return embedding


def diagnose_load_failure(model_dir: str, error: Exception) -> ModelFilesError:
    """Name the damaged or missing file after Kashgari's own loader failed.

    Args:
        model_dir: The folder Kashgari's ``save`` wrote.
        error: What Kashgari's ``load_model`` raised.

    Returns:
        An error naming the first weights file that is missing or unreadable,
        or, if both read fine, one that carries Kashgari's message.
    """
    from kashgari_mlflow._safety.hdf5 import check_weights_file

    for name in (MODEL_WEIGHTS_FILE, EMBED_WEIGHTS_FILE):
        path = os.path.join(model_dir, name)
        if not os.path.isfile(path):
            return ModelFilesError(f"{path} is missing: the model folder is incomplete.")
        try:
            check_weights_file(path)
        except ModelFilesError as problem:
            return problem
    return ModelFilesError(f"Kashgari could not load the model in {model_dir}: {error}")


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
