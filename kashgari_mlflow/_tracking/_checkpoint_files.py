"""A training checkpoint on disk: network weights, optimizer state and the callback's state.

One folder holds ``training/`` (a ``tf.train.Checkpoint`` of the Keras network
and its optimizer: every weight, Adam's moments, the iteration count),
``state.json`` (the epoch, the step it was logged at, the best epoch so far,
the fit's metric history and a digest of the vocabularies) and, when the best
epoch is an earlier one whose weights ``log_model="best"`` still needs,
``best_weights.npz``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Version of the folder layout; a reader refuses others.
FORMAT = 1
_STATE = "state.json"
_TRAINING = os.path.join("training", "ckpt")
_BEST_WEIGHTS = "best_weights.npz"


class CheckpointError(ValueError):
    """A checkpoint cannot be restored into this model; the message says why."""


@dataclass
class CheckpointState:
    """What a checkpoint records besides the weights.

    Attributes:
        epoch: Keras' 0-based epoch that had ended.
        step: The step that epoch was logged at.
        step_offset: ``step - epoch`` (steps continue across fits in one run).
        metrics: The epoch's metrics (sent again on resume if they never reached the run).
        best: ``{"step", "value", "monitor"}`` of the best epoch so far, or None.
        history: Every metric of the run's fits so far by step, for the learning curves.
        checkpoints: ``[{"step", "ref", "value"}]`` of the checkpoints kept in the run.
        vocabulary: Digest of the token and label vocabularies the weights belong to.
        model: Digest of the Kashgari model class and hyper-parameters.
        global_batch: Batches trained so far (the steps of ``log_every_n_steps``).
    """

    epoch: int
    step: int
    step_offset: int
    metrics: dict[str, float]
    best: dict[str, Any] | None
    history: dict[str, list[tuple[int, float]]]
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    vocabulary: str = ""
    model: str = ""
    global_batch: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``state.json``."""
        return {"format": FORMAT, **self.__dict__}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckpointState:
        """Read ``state.json``'s object.

        Raises:
            CheckpointError: If it is of another format or lacks a field.
        """
        if data.get("format") != FORMAT:
            raise CheckpointError(
                f"The checkpoint has format {data.get('format')!r}; this version of "
                f"kashgari-mlflow reads format {FORMAT}."
            )
        try:
            return cls(
                epoch=int(data["epoch"]),
                step=int(data["step"]),
                step_offset=int(data["step_offset"]),
                metrics={str(k): float(v) for k, v in data["metrics"].items()},
                best=data.get("best"),
                history={
                    str(k): [(int(s), float(v)) for s, v in points]
                    for k, points in data["history"].items()
                },
                checkpoints=list(data.get("checkpoints", [])),
                vocabulary=str(data.get("vocabulary", "")),
                model=str(data.get("model", "")),
                global_batch=int(data.get("global_batch", 0)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"The checkpoint's {_STATE} is incomplete: {err}") from err


def vocabulary_digest(kash_model: Any) -> str:
    """A digest of the model's token and label vocabularies (same data, same digest)."""
    vocabularies = [
        getattr(getattr(kash_model, name, None), "vocab2idx", None)
        for name in ("text_processor", "label_processor")
    ]
    text = json.dumps(vocabularies, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_digest(kash_model: Any) -> str:
    """A digest of the Kashgari model's class, hyper-parameters and weight shapes.

    The shapes catch what the hyper-parameters leave out (the embedding's size,
    a BERT of other depth); layer names are left out, as Keras numbers them per
    process.
    """
    hyper = getattr(kash_model, "hyper_parameters", None)
    tf_model = getattr(kash_model, "tf_model", None)
    shapes = [list(weight.shape) for weight in getattr(tf_model, "weights", [])]
    text = json.dumps(
        [type(kash_model).__name__, hyper, shapes], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_compatible(state: CheckpointState, kash_model: Any) -> None:
    """Refuse a checkpoint of another model class, hyper-parameters or vocabularies.

    Raises:
        CheckpointError: Saying what differs and how to build the model.
    """
    if state.vocabulary and state.vocabulary != vocabulary_digest(kash_model):
        raise CheckpointError(
            "The checkpoint was trained with other token or label vocabularies than this "
            "model's: build the model on the same training data as the run being resumed."
        )
    if state.model and state.model != model_digest(kash_model):
        raise CheckpointError(
            "The checkpoint was trained with another model class, other hyper-parameters or "
            f"another embedding than this {type(kash_model).__name__}: resume with the model "
            "the run was trained with."
        )


def write_checkpoint(
    folder: str, tf_model: Any, state: CheckpointState, best_weights: list[Any] | None
) -> None:
    """Write the network, its optimizer, ``state`` and (if given) the best epoch's weights."""
    import numpy as np
    import tensorflow as tf

    os.makedirs(folder, exist_ok=True)
    tf.train.Checkpoint(**_trackables(tf_model)).write(os.path.join(folder, _TRAINING))
    if best_weights is not None:
        np.savez(os.path.join(folder, _BEST_WEIGHTS), *best_weights)
    write_state(folder, state)


def write_state(folder: str, state: CheckpointState) -> None:
    """Write (or rewrite) a checkpoint folder's ``state.json``."""
    with open(os.path.join(folder, _STATE), "w", encoding="utf-8") as handle:
        json.dump(state.to_json(), handle)


def read_state(folder: str) -> CheckpointState:
    """The ``state.json`` of a checkpoint folder.

    Raises:
        CheckpointError: If it is missing or unreadable.
    """
    try:
        with open(os.path.join(folder, _STATE), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"The checkpoint has no readable {_STATE}: {err}") from err
    return CheckpointState.from_json(data)


@dataclass
class Restored:
    """A checkpoint read into a network.

    Attributes:
        state: Its ``state.json``.
        best_weights: The best epoch's weights when they were saved apart, else None.
    """

    state: CheckpointState
    best_weights: list[Any] | None


def restore_checkpoint(folder: str, tf_model: Any, kash_model: Any) -> Restored:
    """Load a checkpoint's weights and optimizer state into ``tf_model``.

    Raises:
        CheckpointError: If the checkpoint belongs to other vocabularies (the model
            was built on other data) or its weights do not fit the network.
    """
    import numpy as np
    import tensorflow as tf

    state = read_state(folder)
    check_compatible(state, kash_model)
    optimizer = getattr(tf_model, "optimizer", None)
    if optimizer is not None and hasattr(optimizer, "build"):
        # Built now, its variables are restored now, not deferred to the first
        # training step, when the downloaded files are gone.
        optimizer.build(tf_model.trainable_variables)
    try:
        status = tf.train.Checkpoint(**_trackables(tf_model)).read(os.path.join(folder, _TRAINING))
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise CheckpointError(
            f"The checkpoint's weights do not fit this network ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); resume with the same model "
            "class and hyper-parameters."
        ) from err
    best_weights = None
    path = os.path.join(folder, _BEST_WEIGHTS)
    if os.path.exists(path):
        with np.load(path) as saved:
            best_weights = [saved[f"arr_{index}"] for index in range(len(saved.files))]
    return Restored(state, best_weights)


def _trackables(tf_model: Any) -> dict[str, Any]:
    optimizer = getattr(tf_model, "optimizer", None)
    return {"model": tf_model, **({"optimizer": optimizer} if optimizer is not None else {})}
