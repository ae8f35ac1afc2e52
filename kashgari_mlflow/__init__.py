"""kashgari-mlflow: the full MLflow lifecycle for Kashgari NER models.

Importing this package is cheap: TensorFlow, Kashgari and MLflow are imported
only when a callback or a flavor function is first used.

Example:
    >>> from kashgari_mlflow import MlflowCallback  # doctest: +SKIP
    >>> model.fit(x, y, x_val, y_val, callbacks=[MlflowCallback()])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kashgari_mlflow._version import __version__

if TYPE_CHECKING:
    from kashgari_mlflow._autolog import autolog
    from kashgari_mlflow._compat import support_gensim4
    from kashgari_mlflow._conll import read_conll
    from kashgari_mlflow._evaluate_model import evaluate_model
    from kashgari_mlflow._loading import ModelFilesError
    from kashgari_mlflow._registry import IncompleteModelError
    from kashgari_mlflow._tokenizer_choice import TokenizerWarning
    from kashgari_mlflow._tracking._failures import TrackingWarning
    from kashgari_mlflow.callbacks import MlflowCallback
    from kashgari_mlflow.flavor import FLAVOR_NAME, load_model, log_model, save_model

__all__ = [
    "FLAVOR_NAME",
    "IncompleteModelError",
    "MlflowCallback",
    "ModelFilesError",
    "TokenizerWarning",
    "TrackingWarning",
    "__version__",
    "autolog",
    "evaluate_model",
    "load_model",
    "log_model",
    "read_conll",
    "save_model",
    "support_gensim4",
]

_LAZY = {
    "autolog": "kashgari_mlflow._autolog",
    "evaluate_model": "kashgari_mlflow._evaluate_model",
    "FLAVOR_NAME": "kashgari_mlflow.flavor",
    "IncompleteModelError": "kashgari_mlflow._registry",
    "MlflowCallback": "kashgari_mlflow.callbacks",
    "ModelFilesError": "kashgari_mlflow._loading",
    "TrackingWarning": "kashgari_mlflow._tracking._failures",
    "load_model": "kashgari_mlflow.flavor",
    "log_model": "kashgari_mlflow.flavor",
    "read_conll": "kashgari_mlflow._conll",
    "save_model": "kashgari_mlflow.flavor",
    "support_gensim4": "kashgari_mlflow._compat",
    "TokenizerWarning": "kashgari_mlflow._tokenizer_choice",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kashgari_mlflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
