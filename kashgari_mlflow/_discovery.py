"""Find the Kashgari model behind a Keras callback, and the arguments of its ``fit``.

A Keras callback only sees ``kash_model.tf_model``; nothing links back to the
Kashgari model. Kashgari's ``fit`` calls ``fit_generator``, which calls
``tf_model.fit``: so while a callback runs, a frame up the stack has the
Kashgari model as ``self`` and the batch size, epochs and data generators as
locals. Reading them is reliable for every Kashgari task model; when the model
is trained some other way, the objects that reference ``tf_model`` are searched.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kashgari_mlflow._compat import is_kashgari_task_model


@dataclass
class FitContext:
    """What the callback learns about the ``fit`` call it is part of.

    Attributes:
        kash_model: The Kashgari model being trained.
        batch_size: ``batch_size`` passed to ``fit``, if it could be read.
        train_x / train_y / valid_x / valid_y: The data passed to ``fit``.
    """

    kash_model: Any
    batch_size: int | None = None
    train_x: Sequence[Any] | None = None
    train_y: Sequence[Any] | None = None
    valid_x: Sequence[Any] | None = None
    valid_y: Sequence[Any] | None = None
    callbacks: Sequence[Any] = ()


def _data_of(generator: Any) -> tuple[Any, Any]:
    return getattr(generator, "x_data", None), getattr(generator, "y_data", None)


def _from_frame(kash_model: Any, frame_locals: dict[str, Any]) -> FitContext:
    train_x, train_y = _data_of(frame_locals.get("train_sample_gen"))
    valid_x, valid_y = _data_of(frame_locals.get("valid_sample_gen"))
    if train_x is None:
        train_x, train_y = frame_locals.get("x_train"), frame_locals.get("y_train")
    if valid_x is None:
        valid_x, valid_y = frame_locals.get("x_validate"), frame_locals.get("y_validate")
    batch_size = frame_locals.get("batch_size")
    return FitContext(
        kash_model=kash_model,
        batch_size=batch_size if isinstance(batch_size, int) else None,
        train_x=train_x,
        train_y=train_y,
        valid_x=valid_x,
        valid_y=valid_y,
        callbacks=list(frame_locals.get("callbacks") or []),
    )


def find_fit_context(tf_model: Any, explicit: Any = None) -> FitContext | None:
    """Locate the Kashgari model that owns ``tf_model`` and its ``fit`` arguments.

    Args:
        tf_model: The Keras model the callback is attached to.
        explicit: A Kashgari model the user passed; it wins over discovery.

    Returns:
        The context, or None if no Kashgari model owns ``tf_model``.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            candidate = frame.f_locals.get("self")
            if (
                candidate is not None
                and getattr(candidate, "tf_model", None) is tf_model
                and is_kashgari_task_model(candidate)
                and explicit in (None, candidate)
            ):
                return _from_frame(candidate, frame.f_locals)
            frame = frame.f_back
    finally:
        del frame
    if explicit is not None:
        return FitContext(kash_model=explicit)
    owner = _find_owner_by_reference(tf_model)
    return FitContext(kash_model=owner) if owner is not None else None


def _find_owner_by_reference(tf_model: Any) -> Any:
    for referrer in gc.get_referrers(tf_model):
        if is_kashgari_task_model(referrer) and getattr(referrer, "tf_model", None) is tf_model:
            return referrer
        if isinstance(referrer, dict) and referrer.get("tf_model") is tf_model:
            for owner in gc.get_referrers(referrer):
                if getattr(owner, "__dict__", None) is referrer and is_kashgari_task_model(owner):
                    return owner
    return None
