"""A run's status tells how its training ended: caught errors, notebooks, SIGTERM, Ctrl-C.

Each case runs ``tests/_status_worker.py`` (or a real IPython shell) in its own
process, since what is tested happens when a process exits or gets a signal.
The default tier drives the run as the callback does, without TensorFlow; the
slow tier trains a real model with ``MlflowCallback()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest

from tests.conftest import ROOT

WORKER_TIMEOUT = 300


def start_worker(mode: str, uri: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests._status_worker", mode, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(worker: subprocess.Popen[str], wanted: str) -> list[str]:
    """Read the worker's output up to a line starting with ``wanted``."""
    assert worker.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + WORKER_TIMEOUT
    while time.monotonic() < deadline:
        line = worker.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith(wanted):
            return lines
    worker.kill()
    _, err = worker.communicate(timeout=WORKER_TIMEOUT)
    raise AssertionError(f"no {wanted!r} from the worker: {lines}, {err[-3000:]}")


def finish(worker: subprocess.Popen[str]) -> tuple[int, list[str]]:
    out, err = worker.communicate(timeout=WORKER_TIMEOUT)
    return worker.returncode, [*out.split("\n"), "STDERR", err[-3000:]]


def run_of(lines: list[str]) -> str:
    return next(line.split()[1] for line in lines if line.startswith("RUN "))


def losses(run_id: str) -> list[int]:
    history = mlflow.MlflowClient().get_metric_history(run_id, "loss")
    return sorted(metric.step for metric in history)


def status(run_id: str) -> str:
    return str(mlflow.MlflowClient().get_run(run_id).info.status)


def test_a_caught_error_leaves_the_run_failed_when_the_process_exits(tracking_uri: str) -> None:
    # MLflow's own exit hook would end the active run FINISHED.
    code, lines = finish(start_worker("caught", tracking_uri))
    assert code == 0 and "CAUGHT RuntimeError" in lines, lines
    run_id = run_of(lines)
    assert status(run_id) == "FAILED"
    assert losses(run_id) == [0, 1, 2]


def test_sigterm_ends_the_run_killed_and_the_process_terminates_by_it(tracking_uri: str) -> None:
    worker = start_worker("sigterm", tracking_uri)
    lines = wait_for_line(worker, "WAITING")
    worker.send_signal(signal.SIGTERM)
    code, _ = finish(worker)
    assert code == -signal.SIGTERM  # terminated by the signal, as without us
    run_id = run_of(lines)
    assert status(run_id) == "KILLED"
    assert losses(run_id) == [0, 1, 2]


def test_a_fit_inside_a_users_run_tags_it_and_never_ends_it(tracking_uri: str) -> None:
    code, lines = finish(start_worker("users-run", tracking_uri))
    assert code == 0 and "CAUGHT" in lines, lines
    run = mlflow.MlflowClient().get_run(run_of(lines))
    assert run.info.status == "FINISHED"  # the script's own with-block ended it
    assert run.data.tags["kashgari_mlflow.fit_status"] == "FAILED"


IPYTHON_SESSION = """
import sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
for cell in {cells!r}:
    shell.run_cell(cell, store_history=True)
"""

#: The cell after the failing one: what the user sees there.
CHECK_CELL = (
    "import mlflow, sys\n"
    "print('STATUS', mlflow.MlflowClient().get_run(run_id).info.status)\n"
    "print('EXCEPTHOOK', sys.excepthook == hook_before)"
)

FAKE_FIT_CELL = """
from kashgari_mlflow._tracking._runs import TrackedRun
run = TrackedRun.open()
run_id = run.run_id
run.sender.queue_metrics({"loss": 0.5}, 0)
run.sender.flush()
"""


def ipython_session(uri: str, *cells: str) -> list[str]:
    first = "import sys; hook_before = sys.excepthook"
    code = IPYTHON_SESSION.format(cells=[first, *cells, CHECK_CELL])
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_a_failing_notebook_cell_fails_the_run_before_the_next_cell(tracking_uri: str) -> None:
    # IPython never calls sys.excepthook for a failing cell; the next cell sees the status.
    lines = ipython_session(tracking_uri, FAKE_FIT_CELL, "raise RuntimeError('it broke')")
    assert "STATUS FAILED" in lines, lines
    assert "EXCEPTHOOK True" in lines, lines  # no run of ours open: the hook is gone


@pytest.mark.slow
def test_sigterm_chains_to_the_scripts_own_handler(tracking_uri: str, tmp_path: Path) -> None:
    marker = tmp_path / "handled"
    worker = start_worker("chained-sigterm", tracking_uri, "--marker", str(marker))
    lines = wait_for_line(worker, "WAITING")
    worker.send_signal(signal.SIGTERM)
    code, _ = finish(worker)
    assert code == 3 and marker.read_text() == "handled"
    assert status(run_of(lines)) == "KILLED"


@pytest.mark.slow
def test_a_caught_ctrl_c_leaves_the_run_killed(tracking_uri: str) -> None:
    code, lines = finish(start_worker("caught-ctrl-c", tracking_uri))
    assert code == 0 and "CAUGHT KeyboardInterrupt" in lines, lines
    run_id = run_of(lines)
    assert status(run_id) == "KILLED"
    assert losses(run_id) == [0, 1, 2]  # the interrupt came after epoch 2 was logged


# ---------------------------------------------------------------- real trainings
@pytest.mark.slow
def test_real_fit_caught_error_is_failed(tracking_uri: str) -> None:
    code, lines = finish(start_worker("caught", tracking_uri, "--fit"))
    assert code == 0 and "CAUGHT RuntimeError" in lines, lines
    run_id = run_of(lines)
    assert status(run_id) == "FAILED"
    assert losses(run_id) == [0, 1, 2]


@pytest.mark.slow
def test_real_fit_sigterm_after_the_third_epoch_is_killed_with_its_epochs(
    tracking_uri: str,
) -> None:
    worker = start_worker("sigterm", tracking_uri, "--fit", "--epochs", "6")
    lines = wait_for_line(worker, "WAITING")
    worker.send_signal(signal.SIGTERM)
    code, _ = finish(worker)
    assert code == -signal.SIGTERM
    run_id = run_of(lines)
    assert status(run_id) == "KILLED"
    steps = losses(run_id)
    assert steps[:3] == [0, 1, 2] and steps == sorted(set(steps))  # each epoch once


@pytest.mark.slow
def test_real_fit_failing_in_a_notebook_cell_is_failed_before_the_next_cell(
    tracking_uri: str,
) -> None:
    setup = (
        "import tensorflow as tf\n"
        "from kashgari_mlflow import MlflowCallback\n"
        "from tests.conftest import _load_example_module, make_tiny_model\n"
        "corpus = _load_example_module('demo_corpus')\n"
        "x, y, vx, vy = corpus.demo_corpus(n_train=120, n_dev=30, seed=7)\n"
        "model = make_tiny_model(data=(x, y))\n"
        "tracker = MlflowCallback()\n"
        "class Breaks(tf.keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        if epoch == 1:\n"
        "            raise RuntimeError('the training broke')\n"
        "try:\n"
        "    model.fit(x, y, vx, vy, epochs=4, callbacks=[tracker, Breaks()],\n"
        "              fit_kwargs={'verbose': 0})\n"
        "finally:\n"
        "    run_id = tracker.active_run_id\n"
    )
    lines = ipython_session(tracking_uri, setup)
    assert "STATUS FAILED" in lines, lines
