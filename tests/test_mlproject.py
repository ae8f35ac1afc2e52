"""``mlflow run examples/ner`` trains, logs one run and a model that loads with pyfunc."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_mlflow_run_logs_one_finished_run_with_a_loadable_model(
    tmp_path: Path, tracking_uri: str
) -> None:
    uri = tracking_uri
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLFLOW_RUN_ID", None)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    command = [
        sys.executable, "-m", "mlflow", "run", str(ROOT / "examples" / "ner"),
        "-P", "epochs=1", "-P", "max_sentences=120",
        "--env-manager", "local", "--experiment-name", "proj",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("proj")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1, [run.info.run_id for run in runs]
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "1"
    assert run.data.params["train_sentences"] == "120"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0]

    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    (answer,) = model.predict(["John lives in New York"])
    assert answer["tokens"] == ["John", "lives", "in", "New", "York"]
    assert len(answer["tags"]) == 5
