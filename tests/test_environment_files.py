"""The environment files of a model saved with the defaults: MLflow's own answer, faster."""

from pathlib import Path

import pytest
import yaml

from kashgari_mlflow._environment import default_environment, write_environment_files


def _mlflow_processing() -> tuple[dict, list[str], list[str]]:
    from mlflow.utils.environment import _process_pip_requirements

    from kashgari_mlflow._environment import get_default_pip_requirements

    return _process_pip_requirements(get_default_pip_requirements())


def test_default_environment_equals_mlflows_own_processing(monkeypatch):
    monkeypatch.delenv("MLFLOW_LOCK_MODEL_DEPENDENCIES", raising=False)
    assert default_environment() == _mlflow_processing()


def test_default_environment_never_scans_the_installed_packages(monkeypatch):
    import mlflow.utils.environment as environment

    def scan(requirements):
        raise AssertionError(f"checked the installed packages against {requirements}")

    monkeypatch.delenv("MLFLOW_LOCK_MODEL_DEPENDENCIES", raising=False)
    monkeypatch.setattr(environment, "warn_dependency_requirement_mismatches", scan)
    _, pip_reqs, constraints = default_environment()
    assert [line.split("==")[0] for line in pip_reqs] == ["mlflow", "tensorflow"]
    assert constraints == []


def test_locking_requested_goes_through_mlflow(monkeypatch):
    import mlflow.utils.environment as environment

    if not hasattr(__import__("mlflow").environment_variables, "MLFLOW_LOCK_MODEL_DEPENDENCIES"):
        pytest.skip("this MLflow has no MLFLOW_LOCK_MODEL_DEPENDENCIES")
    monkeypatch.setenv("MLFLOW_LOCK_MODEL_DEPENDENCIES", "true")
    monkeypatch.setattr(environment, "_lock_requirements", lambda reqs, constraints: ["locked==1"])
    assert default_environment()[1] == ["locked==1"]


def test_written_files_carry_the_default_pins(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_LOCK_MODEL_DEPENDENCIES", raising=False)
    write_environment_files(str(tmp_path), None, None, None)
    expected_conda, expected_reqs, _ = _mlflow_processing()
    assert (tmp_path / "requirements.txt").read_text().split("\n") == expected_reqs
    assert yaml.safe_load((tmp_path / "conda.yaml").read_text()) == expected_conda
    assert (tmp_path / "python_env.yaml").is_file()
    assert not (tmp_path / "constraints.txt").exists()
