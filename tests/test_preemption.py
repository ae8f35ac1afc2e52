"""A preempted training (SIGTERM) continues in the same run when the same command runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from kashgari_mlflow._tracking._checkpoint_store import LATEST_TAG, latest_checkpoint
from tests.conftest import ROOT, _tracking_to

pytestmark = pytest.mark.slow

EPOCHS = 6
TIMEOUT = 600


def _command(run_name: str, *extra: str) -> list[str]:
    return [
        sys.executable, str(ROOT / "examples" / "train_ner.py"),
        "--epochs", str(EPOCHS), "--max-sentences", "400", "--batch-size", "32",
        "--seed", "3", "--experiment", "preemptible", "--run-name", run_name, *extra,
    ]  # fmt: skip


def _environment(workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "PYTHONUNBUFFERED": "1",
    }


def _run(command: list[str], workdir: Path) -> str:
    done = subprocess.run(
        command, cwd=workdir, env=_environment(workdir), capture_output=True, text=True,
        timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _stop_after_third_epoch(command: list[str], workdir: Path) -> list[str]:
    """Start the training, send SIGTERM once it reports its third epoch, return its lines."""
    process = subprocess.Popen(
        command, cwd=workdir, env=_environment(workdir), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith(f"epoch 3/{EPOCHS}"):
                process.send_signal(signal.SIGTERM)
                break
        lines += process.stdout.read().splitlines()
        assert process.wait(timeout=60) == -signal.SIGTERM, "\n".join(lines[-40:])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    return lines


def _losses(client: mlflow.MlflowClient, run_id: str) -> dict[int, float]:
    return {m.step: m.value for m in client.get_metric_history(run_id, "loss")}


def test_a_preempted_training_resumes_in_its_run_and_finishes(tmp_path: Path) -> None:
    command = _command("preempted", "--resume")
    lines = _stop_after_third_epoch(command, tmp_path)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("preemptible").experiment_id])
    assert run.info.status == "KILLED", "\n".join(lines[-40:])
    stopped = latest_checkpoint(client, run.info.run_id)
    assert stopped is not None and stopped.step >= 2
    # The checkpoint is the last epoch that completed (and was logged) before the signal.
    before = _losses(client, run.info.run_id)
    assert sorted(before) == list(range(stopped.step + 1))

    output = _run(command, tmp_path)  # the same command again
    assert f"Resumed run {run.info.run_id} from the checkpoint of epoch {stopped.step}" in output
    runs = client.search_runs([run.info.experiment_id])
    assert [r.info.run_id for r in runs] == [run.info.run_id]  # one run
    resumed = client.get_run(run.info.run_id)
    assert resumed.info.status == "FINISHED"
    for key in ("loss", "val_loss", "val_entity_f1", "val_strict_f1", "learning_rate"):
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
        assert steps == list(range(EPOCHS)), key  # every epoch once: none lost, none twice
    assert f'"step": {EPOCHS - 1}' in resumed.data.tags[LATEST_TAG]
    with _tracking_to(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.predict(["John lives in New York"])[0]["tags"]

    # The loss curve goes on as if nothing happened: an uninterrupted run, same seed.
    _run(_command("uninterrupted"), tmp_path)
    (whole,) = client.search_runs([run.info.experiment_id], "attributes.run_name = 'uninterrupted'")
    resumed_losses, whole_losses = (
        _losses(client, run.info.run_id),
        _losses(client, whole.info.run_id),
    )
    assert {step: resumed_losses[step] for step in before} == before  # the resume kept them
    # Same seed, same curve, up to the order of the batches: Kashgari's shuffle of the
    # training and the validation batches draws from NumPy's global generator in tf.data's
    # threads, so the order can differ between two processes (a few percent at the epochs
    # after); and the resumed process shuffles its first epoch from a fresh seed. A fresh
    # start instead of a resume would be hundreds of times off.
    first_after = stopped.step + 1
    for step in range(first_after + 1):
        assert resumed_losses[step] == pytest.approx(whole_losses[step], rel=0.1), step
