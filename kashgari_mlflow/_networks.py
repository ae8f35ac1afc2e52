"""The network a pyfunc runs, and the vocabularies around it, read from a saved model.

Two sources, by the model's ``format_version``:

* format 2: ``serving/``, written by :func:`write_serving_files`: a
  TensorFlow SavedModel of the inference graph (checked op by op before
  TensorFlow loads it) and ``vocabulary.json``. TensorFlow alone loads it.
* format 1: Kashgari's own files in ``data/``; the Keras network is rebuilt
  from ``model_config.json`` (transformer layers then need Kashgari).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kashgari_mlflow._loading import ModelFilesError
from kashgari_mlflow._tagger import TextEncoding

SAVED_MODEL_SUBPATH = "saved_model"
VOCABULARY_FILE = "vocabulary.json"
#: Version of ``vocabulary.json``'s own layout, checked on read.
VOCABULARY_VERSION = 1

#: ``token_ids -> {"label_ids": ...}`` (labeling) or ``{"probabilities": ...}``.
ServeFn = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class SavedNetwork:
    """What a tagger or classifier needs: the graph, the token vocabulary and the labels."""

    serve: ServeFn
    encoding: TextEncoding
    labels: list[str]
    multi_label: bool = False


def from_kashgari(kash_model: Any, task: str) -> SavedNetwork:
    """Wrap a live Kashgari model (no copy of its weights is made)."""
    from kashgari_mlflow._serving_graph import kashgari_inference_function

    text = kash_model.text_processor
    embedding = kash_model.embedding
    encoding = TextEncoding(
        token2idx=text.vocab2idx,
        token_pad=text.token_pad,
        token_unk=text.token_unk,
        token_bos=text.token_bos,
        token_eos=text.token_eos,
        segment=bool(embedding.segment),
        max_position=embedding.max_position,
    )
    idx2label = kash_model.label_processor.idx2vocab
    labels = [idx2label[index] for index in range(len(idx2label))]
    serve = kashgari_inference_function(kash_model, task, encoding.segment)
    multi_label = bool(getattr(kash_model.label_processor, "multi_label", False))
    return SavedNetwork(serve, encoding, labels, multi_label)


def read_kashgari_files(model_dir: str, task: str) -> SavedNetwork:
    """Rebuild the network from the folder Kashgari's ``save`` wrote (format 1).

    Raises:
        ModelFilesError: If a file is missing or damaged.
    """
    from kashgari_mlflow._loading import read_model_config, rebuild_tf_model
    from kashgari_mlflow._serving_graph import inference_function

    config = read_model_config(model_dir)
    tf_model = rebuild_tf_model(model_dir, config)
    embedding = config["embedding"]["config"]
    encoding = TextEncoding.from_processor_config(
        config["text_processor"]["config"],
        segment=bool(embedding.get("segment", False)),
        max_position=embedding.get("max_position"),
    )
    label_config = config["label_processor"]["config"]
    vocab = label_config["vocab2idx"]
    labels = [label for label, _ in sorted(vocab.items(), key=lambda item: item[1])]
    serve = inference_function(tf_model, task, encoding.segment)
    return SavedNetwork(serve, encoding, labels, bool(label_config.get("multi_label", False)))


def write_serving_files(kash_model: Any, task: str, serving_dir: str) -> None:
    """Export the inference graph and write ``vocabulary.json`` into ``serving_dir``.

    Raises:
        ModelFilesError: If the exported graph uses an op outside the
            allowlists of :mod:`kashgari_mlflow._graph_ops` (a custom layer):
            its pyfunc would refuse to load it.
    """
    from kashgari_mlflow._graph_ops import check_saved_model_ops
    from kashgari_mlflow._serving_graph import export_saved_model

    network = from_kashgari(kash_model, task)
    saved_model_dir = os.path.join(serving_dir, SAVED_MODEL_SUBPATH)
    export_saved_model(network.serve, kash_model.tf_model.weights, saved_model_dir)
    check_saved_model_ops(saved_model_dir)
    encoding = network.encoding
    vocabulary = {
        "version": VOCABULARY_VERSION,
        "task": task,
        "token2idx": dict(encoding.token2idx),
        "token_pad": encoding.token_pad,
        "token_unk": encoding.token_unk,
        "token_bos": encoding.token_bos,
        "token_eos": encoding.token_eos,
        "max_position": encoding.max_position,
        "labels": network.labels,
        "multi_label": network.multi_label,
    }
    with open(os.path.join(serving_dir, VOCABULARY_FILE), "w", encoding="utf-8") as handle:
        json.dump(vocabulary, handle, ensure_ascii=False)


def read_serving_files(serving_dir: str, task: str) -> SavedNetwork:
    """Load what :func:`write_serving_files` wrote, with TensorFlow alone (format 2).

    Raises:
        ModelFilesError: If a file is missing or damaged, or the SavedModel
            holds an op no exported graph uses.
    """
    from kashgari_mlflow._graph_ops import check_saved_model_ops
    from kashgari_mlflow._safety.serving_files import check_serving_files
    from kashgari_mlflow._serving_graph import load_serving_function

    check_serving_files(serving_dir, VOCABULARY_FILE, SAVED_MODEL_SUBPATH)
    vocabulary = _read_vocabulary(os.path.join(serving_dir, VOCABULARY_FILE), task)
    saved_model_dir = os.path.join(serving_dir, SAVED_MODEL_SUBPATH)
    check_saved_model_ops(saved_model_dir)
    encoding = TextEncoding.from_processor_config(
        {"vocab2idx": vocabulary["token2idx"], **vocabulary},
        # The graph makes the segment ids itself: it takes token ids only.
        segment=False,
        max_position=vocabulary.get("max_position"),
    )
    try:
        serve = load_serving_function(saved_model_dir)
    except (OSError, ValueError, KeyError) as err:
        raise ModelFilesError(f"{saved_model_dir} cannot be loaded ({err}).") from err
    labels = list(vocabulary["labels"])
    return SavedNetwork(serve, encoding, labels, bool(vocabulary.get("multi_label", False)))


def _read_vocabulary(path: str, task: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            vocabulary = json.load(handle)
    except FileNotFoundError as err:
        raise ModelFilesError(f"{path} is missing: the model folder is incomplete.") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFilesError(
            f"{path} is not valid JSON ({err}); it is truncated or corrupted."
        ) from err
    problem = _vocabulary_problem(vocabulary, task)
    if problem:
        raise ModelFilesError(f"{path} {problem}; the model folder is damaged or was edited.")
    return dict(vocabulary)


def _vocabulary_problem(vocabulary: Any, task: str) -> str | None:
    if not isinstance(vocabulary, dict):
        return "is not a JSON object"
    version = vocabulary.get("version")
    if not isinstance(version, int) or version > VOCABULARY_VERSION:
        return f"has version {version!r}; this loader reads up to {VOCABULARY_VERSION}"
    if vocabulary.get("task") != task:
        return f"is for task {vocabulary.get('task')!r}, the MLmodel says {task!r}"
    token2idx = vocabulary.get("token2idx")
    if not isinstance(token2idx, dict) or not all(
        isinstance(index, int) and not isinstance(index, bool) for index in token2idx.values()
    ):
        return "has no token2idx mapping of tokens to integer ids"
    labels = vocabulary.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        return "has no list of label names"
    for key in ("token_pad", "token_unk", "token_bos", "token_eos"):
        if not isinstance(vocabulary.get(key), str):
            return f"has no string {key}"
    max_position = vocabulary.get("max_position")
    if max_position is not None and (not isinstance(max_position, int) or max_position < 3):
        return f"has an invalid max_position {max_position!r}"
    return None
