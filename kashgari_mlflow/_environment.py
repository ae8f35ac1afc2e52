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

    if conda_env is None:
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
