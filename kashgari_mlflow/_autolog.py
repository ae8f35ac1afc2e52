"""``autolog()``: track every Kashgari ``fit`` without passing a callback."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_originals: dict[type, Callable[..., Any]] = {}
_options: dict[str, Any] = {}


def autolog(disable: bool = False, **options: Any) -> None:
    """Add an :class:`~kashgari_mlflow.MlflowCallback` to every Kashgari ``fit``.

    Patches ``fit_generator`` (which ``fit`` calls) of Kashgari's labeling and
    classification base classes. A ``fit`` that already has an
    ``MlflowCallback`` is left as it is, so no second run is created. A ``fit``
    that raises leaves the run the callback started ``FAILED`` (``KILLED`` for
    Ctrl-C).

    Args:
        disable: Undo the patching.
        **options: Arguments for every ``MlflowCallback`` created, e.g.
            ``experiment_name``, ``log_model``, ``eval_every_n_epochs``.

    Raises:
        TypeError: If an option is not an ``MlflowCallback`` argument.

    Example:
        >>> import kashgari_mlflow
        >>> kashgari_mlflow.autolog(experiment_name="ner")  # doctest: +SKIP
        >>> model.fit(x, y, x_val, y_val)  # doctest: +SKIP
    """
    from kashgari_mlflow._compat import import_kashgari
    from kashgari_mlflow.callbacks import MlflowCallback

    with _lock:
        if disable:
            for cls, original in _originals.items():
                setattr(cls, "fit_generator", original)  # noqa: B010 - mypy cannot see the attribute
            _originals.clear()
            _options.clear()
            return
        MlflowCallback(**options)  # validates the options now, not at the first fit
        _options.clear()
        _options.update(options)
        import_kashgari(reason="kashgari_mlflow.autolog patches Kashgari's fit")
        from kashgari.tasks.classification import ABCClassificationModel
        from kashgari.tasks.labeling import ABCLabelingModel

        for cls in (ABCLabelingModel, ABCClassificationModel):
            if cls not in _originals:
                _originals[cls] = cls.fit_generator
                setattr(cls, "fit_generator", _patched(cls.fit_generator))  # noqa: B010


def _patched(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fit_generator(self: Any, *args: Any, **kwargs: Any) -> Any:
        from kashgari_mlflow.callbacks import MlflowCallback

        bound = signature.bind(self, *args, **kwargs)
        callbacks = list(bound.arguments.get("callbacks") or [])
        ours = [callback for callback in callbacks if isinstance(callback, MlflowCallback)]
        if not ours:
            ours = [MlflowCallback(kash_model=self, **_options)]
            callbacks += ours
        bound.arguments["callbacks"] = callbacks
        try:
            return original(*bound.args, **bound.kwargs)
        except BaseException as err:
            status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
            for callback in ours:
                callback.abort(status)
            raise

    return fit_generator
