"""The environment files a saved model carries, which install with plain pip.

The pyfunc imports TensorFlow, MLflow, NumPy and pandas and nothing else, so
that is all ``requirements.txt`` pins. Kashgari is never listed: its stale pins
(gensim<4, bert4keras' keras<=2.3.1) make it uninstallable by a resolver next
to TensorFlow 2.15. Requirements are never inferred: MLflow's inference starts
a subprocess that loads the model (about 13 s with TensorFlow) and would list
``kashgari``.
"""

from __future__ import annotations

import os
from typing import Any


def get_default_pip_requirements() -> list[str]:
    """Pip requirements of a saved model, pinned to the versions installed now.

    Returns:
        The ``tensorflow`` pin: the pyfunc imports TensorFlow, MLflow (which adds
        its own pin when the model is saved), NumPy and pandas (both MLflow's
        dependencies) and nothing else.
    """
    from mlflow.utils.requirements_utils import _get_pinned_requirement

    return [_get_pinned_requirement("tensorflow")]


def get_default_conda_env() -> dict[str, Any]:
    """The conda environment written next to a saved model by default."""
    from mlflow.utils.environment import _mlflow_conda_env

    env: dict[str, Any] = _mlflow_conda_env(additional_pip_deps=get_default_pip_requirements())
    return env


def default_environment() -> tuple[dict[str, Any], list[str], list[str]]:
    """``(conda env, pip requirements, constraints)`` of a model saved with the defaults.

    What MLflow's own processing gives for :func:`get_default_pip_requirements`
    (the MLflow pin first), without its check that the installed packages satisfy
    the pins: they were read from the installed packages, and the check scans the
    files of every installed distribution (about 1 s in a new process).
    With ``MLFLOW_LOCK_MODEL_DEPENDENCIES`` set (MLflow 3), MLflow's processing
    runs, which locks them.
    """
    from mlflow import environment_variables
    from mlflow.utils.environment import (
        _generate_mlflow_version_pinning,
        _mlflow_conda_env,
        _process_pip_requirements,
    )

    lock = getattr(environment_variables, "MLFLOW_LOCK_MODEL_DEPENDENCIES", None)
    if lock is not None and lock.get():
        processed: tuple[dict[str, Any], list[str], list[str]]
        processed = _process_pip_requirements(get_default_pip_requirements())
        return processed
    pip_reqs = [_generate_mlflow_version_pinning(), *get_default_pip_requirements()]
    conda_env: dict[str, Any] = _mlflow_conda_env(
        additional_pip_deps=pip_reqs, install_mlflow=False
    )
    return conda_env, pip_reqs, []


def write_environment_files(
    path: str, conda_env: Any, pip_requirements: Any, extra_pip_requirements: Any
) -> None:
    """Write ``conda.yaml``, ``python_env.yaml``, ``requirements.txt`` (and constraints)."""
    import yaml
    from mlflow.utils.environment import (
        _CONDA_ENV_FILE_NAME,
        _CONSTRAINTS_FILE_NAME,
        _PYTHON_ENV_FILE_NAME,
        _REQUIREMENTS_FILE_NAME,
        _process_conda_env,
        _process_pip_requirements,
        _PythonEnv,
    )
    from mlflow.utils.file_utils import write_to

    if conda_env is None and pip_requirements is None and extra_pip_requirements is None:
        conda_env, pip_reqs, constraints = default_environment()
    elif conda_env is None:
        default_reqs = None if pip_requirements is not None else get_default_pip_requirements()
        conda_env, pip_reqs, constraints = _process_pip_requirements(
            default_reqs, pip_requirements, extra_pip_requirements
        )
    else:
        conda_env, pip_reqs, constraints = _process_conda_env(conda_env)

    with open(os.path.join(path, _CONDA_ENV_FILE_NAME), "w") as handle:
        yaml.safe_dump(conda_env, stream=handle, default_flow_style=False)
    if constraints:
        write_to(os.path.join(path, _CONSTRAINTS_FILE_NAME), "\n".join(constraints))
    write_to(os.path.join(path, _REQUIREMENTS_FILE_NAME), "\n".join(pip_reqs))
    _PythonEnv.current().to_yaml(os.path.join(path, _PYTHON_ENV_FILE_NAME))
