"""What a model folder of the ``kashgari`` flavor holds, and which version of it.

The layout is public API forever: every logged model keeps it. See
``docs/model-format.md``; :data:`FORMAT_VERSION` is bumped on any change, and
loaders read every version up to theirs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

FLAVOR_NAME = "kashgari"

#: Version of the on-disk layout (docs/model-format.md); bump it on any change.
#: 1: Kashgari's files only; 2: adds ``serving/``. Loaders read every version up
#: to this one and refuse newer ones.
FORMAT_VERSION = 2

DATA_SUBPATH = "data"
SERVING_SUBPATH = "serving"
PACKAGE_NAME = "kashgari_mlflow"


def own_version() -> str:
    """This package's version, as recorded in the MLmodel file."""
    from kashgari_mlflow._version import __version__

    return __version__


def bundled_package_source(workdir: str) -> str:
    """Copy this package's ``.py`` files (no caches) into ``workdir``; return the copy."""
    source = Path(__file__).resolve().parent
    target = Path(workdir) / PACKAGE_NAME
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    return str(target)


def required_files() -> list[str]:
    """Files every logged model of this flavor has; registration checks they arrived."""
    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.utils.environment import (
        _CONDA_ENV_FILE_NAME,
        _PYTHON_ENV_FILE_NAME,
        _REQUIREMENTS_FILE_NAME,
    )

    from kashgari_mlflow._graph_ops import SAVED_MODEL_FILE
    from kashgari_mlflow._loading import EMBED_WEIGHTS_FILE, MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE
    from kashgari_mlflow._networks import SAVED_MODEL_SUBPATH, VOCABULARY_FILE

    data = [MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, EMBED_WEIGHTS_FILE]
    serving = [
        VOCABULARY_FILE,
        f"{SAVED_MODEL_SUBPATH}/{SAVED_MODEL_FILE}",
        f"{SAVED_MODEL_SUBPATH}/variables/variables.index",
    ]
    return [
        MLMODEL_FILE_NAME,
        _CONDA_ENV_FILE_NAME,
        _PYTHON_ENV_FILE_NAME,
        _REQUIREMENTS_FILE_NAME,
        f"code/{PACKAGE_NAME}/flavor.py",
        *(f"{DATA_SUBPATH}/{name}" for name in data),
        *(f"{SERVING_SUBPATH}/{name}" for name in serving),
    ]


def check_format_version(flavor_conf: dict[str, Any]) -> int:
    """The model's ``format_version`` (1 if absent), refused if newer than this loader's.

    Raises:
        kashgari_mlflow._loading.ModelFilesError: If the version is unknown.
    """
    from kashgari_mlflow._loading import ModelFilesError

    version = flavor_conf.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFilesError(
            f"The MLmodel file's kashgari format_version is {version!r}, not a version number; "
            "the file was edited or damaged."
        )
    if version > FORMAT_VERSION:
        raise ModelFilesError(
            f"This model was saved in kashgari format {version}, newer than the {FORMAT_VERSION} "
            f"this kashgari_mlflow ({own_version()}) reads. Upgrade kashgari-mlflow where you "
            "load it, or serve it with the loader it ships (mlflow.pyfunc.load_model in a "
            "process that has not imported kashgari_mlflow)."
        )
    return version


def default_signature(task: str) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    from kashgari_mlflow._pyfunc import DEFAULT_BATCH_SIZE, DEFAULT_THRESHOLD

    second = (
        ParamSpec("output", "string", "all")
        if task == "labeling"
        else ParamSpec("threshold", "double", DEFAULT_THRESHOLD)
    )
    params = ParamSchema([ParamSpec("batch_size", "long", DEFAULT_BATCH_SIZE), second])
    return ModelSignature(inputs=None, outputs=None, params=params)
