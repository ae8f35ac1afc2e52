"""Version shims and guarded imports for Kashgari, TensorFlow and MLflow."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

INSTALL_HINT = (
    "pip install tensorflow==2.15.1 tensorflow-addons==0.23.0 'gensim>=4.3' && "
    "pip install --no-deps kashgari==2.0.2 bert4keras==0.11.5"
)


def import_kashgari(reason: str = "kashgari_mlflow needs it") -> ModuleType:
    """Import Kashgari, or fail with the command that installs it.

    Args:
        reason: Why Kashgari is needed, shown in the error.

    Raises:
        ImportError: If Kashgari (or TensorFlow under it) cannot be imported.
    """
    try:
        module = importlib.import_module("kashgari")
    except ImportError as err:
        raise ImportError(
            f"Kashgari could not be imported ({err}); {reason}. Install it with: {INSTALL_HINT}"
        ) from err
    _quiet_kashgari_logger(module)
    return module


def _quiet_kashgari_logger(kashgari: ModuleType) -> None:
    # Kashgari builds its logger with logging.Logger (not getLogger, so logging
    # config never reaches it) at DEBUG, and logs whole arrays on every predict.
    # Only that default is changed; a level the user set is left alone.
    logger = getattr(getattr(kashgari, "logger", None), "logger", None)
    if isinstance(logger, logging.Logger) and logger.level == logging.DEBUG:
        logger.setLevel(logging.WARNING)


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None if it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def is_kashgari_task_model(obj: object) -> bool:
    """Whether ``obj`` looks like a Kashgari task model (without importing Kashgari)."""
    return all(
        hasattr(obj, attribute)
        for attribute in ("tf_model", "embedding", "text_processor", "label_processor")
    ) and callable(getattr(obj, "save", None))


def task_of(kash_model: object) -> str:
    """``"labeling"`` or ``"classification"`` for a Kashgari task model.

    Raises:
        TypeError: If the model is neither.
    """
    for cls in type(kash_model).__mro__:
        module = cls.__module__
        if module.startswith("kashgari.tasks.labeling"):
            return "labeling"
        if module.startswith("kashgari.tasks.classification"):
            return "classification"
    raise TypeError(
        f"{type(kash_model).__name__} is not a Kashgari labeling or classification model; "
        "kashgari_mlflow supports subclasses of kashgari.tasks.labeling.ABCLabelingModel "
        "and kashgari.tasks.classification.ABCClassificationModel."
    )


def model_log_name_kwargs(model_log: Callable[..., Any], name: str) -> dict[str, Any]:
    """How to name a logged model: ``name=`` on MLflow 3, ``artifact_path=`` on MLflow 2."""
    if "name" in inspect.signature(model_log).parameters:
        return {"artifact_path": None, "name": name}
    return {"artifact_path": name}
