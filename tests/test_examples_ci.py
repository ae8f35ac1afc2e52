"""The sweep, serving and Spark examples run end to end with small settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest

from tests._mlflow_server import free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    workdir = tmp_path_factory.mktemp("sweep")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    output = _run(
        [
            sys.executable, str(ROOT / "examples" / "sweep.py"),
            "--learning-rates", "0.01", "0.03", "--batch-sizes", "32", "--epochs", "2",
            "--max-sentences", "120",
        ],
        workdir, env, timeout=600,
    )  # fmt: skip
    return workdir, env, output


def test_sweep_logs_nested_children_and_registers_the_best(sweep: Any) -> None:
    _, env, output = sweep
    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("kashgari-ner-sweep")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId")]
    assert len(children) == 2
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    assert {run.data.params["optimizer.learning_rate"] for run in children} == {"0.01", "0.03"}
    assert all(run.info.status == "FINISHED" for run in runs)

    best = max(children, key=lambda run: run.data.metrics["best_val_entity_f1"])
    assert parent.data.tags["best_run_id"] == best.info.run_id
    version = client.get_model_version_by_alias("kashgari-ner", "champion")
    assert version.run_id == best.info.run_id
    assert "models:/kashgari-ner@champion is version 1\n" in output
    assert parent.data.tags["promoted"] == "true"


def test_serve_example_answers_curl(sweep: Any) -> None:
    if shutil.which("curl") is None:
        pytest.skip("the serving example uses curl")
    workdir, env, _ = sweep
    env = {**env, "MLFLOW_CMD": f"{sys.executable} -m mlflow"}
    output = _run(
        ["bash", str(ROOT / "examples" / "serve.sh"), "models:/kashgari-ner@champion",
         str(free_port())],
        workdir, env, timeout=300,
    )  # fmt: skip
    answers = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(answers) == 4
    assert [len(a["predictions"]) for a in answers[:3]] == [2, 2, 1]
    assert answers[1]["predictions"][0]["tokens"] == ["Angela", "Merkel", "visited", "Berlin"]
    assert answers[3]["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "tokens must be strings" in answers[3]["message"]


def test_spark_scoring_example_writes_parquet(sweep: Any) -> None:
    if shutil.which("java") is None:
        pytest.skip("PySpark needs a Java runtime")
    workdir, env, _ = sweep
    sentences = workdir / "sentences.txt"
    sentences.write_text("John lives in New York\n\nMary works at Google in Paris .\n")
    output = _run(
        [sys.executable, str(ROOT / "examples" / "spark_scoring.py"),
         "models:/kashgari-ner@champion", str(sentences), str(workdir / "scored")],
        workdir, env, timeout=300,
    )  # fmt: skip
    assert "Wrote 2 scored sentences" in output
    import pandas as pd

    scored = pd.read_parquet(workdir / "scored")
    assert sorted(scored["text"]) == ["John lives in New York", "Mary works at Google in Paris ."]
    assert all(
        len(t) == len(s.split()) for t, s in zip(scored["tags"], scored["text"], strict=True)
    )
