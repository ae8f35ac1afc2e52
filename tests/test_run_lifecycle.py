"""Run status when training fails, and autolog."""

import os
import subprocess
import sys

import mlflow
import pytest
import tensorflow as tf

import kashgari_mlflow
from kashgari_mlflow import MlflowCallback

from .conftest import ROOT, fit_tiny


class Explode(tf.keras.callbacks.Callback):
    def __init__(self, error: BaseException, at_epoch: int = 1):
        super().__init__()
        self.error, self.at_epoch = error, at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise self.error


@pytest.fixture
def data(demo_data):
    train_x, train_y, dev_x, dev_y = demo_data
    return train_x[:64], train_y[:64], dev_x[:16], dev_y[:16]


@pytest.fixture
def autologging():
    yield kashgari_mlflow.autolog
    kashgari_mlflow.autolog(disable=True)


def fit(data, callbacks=(), epochs=2):
    return fit_tiny(data, callbacks, epochs=epochs)


def runs():
    return mlflow.search_runs(search_all_experiments=True, output_format="list")


def test_autolog_tracks_a_fit_without_a_callback(data, tracking_uri, autologging):
    autologging(log_model=False)
    autologging(log_model=False)  # a second call is harmless
    fit(data)
    (run,) = runs()
    assert run.info.status == "FINISHED"
    assert run.data.params["model.class"] == "BiLSTM_CRF_Model"
    assert run.data.params["log_model"] == "False"
    assert "val_entity_f1" in run.data.metrics


def test_autolog_with_an_explicit_callback_makes_one_run(data, tracking_uri, autologging):
    autologging()
    callback = MlflowCallback(log_model=False, run_name="explicit")
    fit(data, [callback])
    (run,) = runs()
    assert run.info.run_name == "explicit"


def test_autolog_disable_restores_kashgari(data, tracking_uri, autologging):
    autologging(log_model=False)
    autologging(disable=True)
    fit(data, epochs=1)
    assert runs() == []


def test_autolog_refuses_unknown_options(autologging):
    with pytest.raises(TypeError, match="unexpected keyword argument 'epochz'"):
        autologging(epochz=3)


def test_failed_fit_under_autolog_leaves_the_run_failed_with_its_metrics(
    data, tracking_uri, autologging
):
    autologging(log_model=False)
    with pytest.raises(RuntimeError, match="boom"):
        fit(data, [Explode(RuntimeError("boom"))], epochs=3)
    (run,) = runs()
    assert run.info.status == "FAILED"
    assert "loss" in run.data.metrics
    assert mlflow.active_run() is None


def test_ctrl_c_under_autolog_leaves_the_run_killed(data, tracking_uri, autologging):
    autologging(log_model=False)
    with pytest.raises(KeyboardInterrupt):
        fit(data, [Explode(KeyboardInterrupt())], epochs=3)
    (run,) = runs()
    assert run.info.status == "KILLED"


def test_a_users_run_is_never_ended_by_a_failed_fit(data, tracking_uri, autologging):
    autologging(log_model=False)
    with mlflow.start_run() as run:
        with pytest.raises(RuntimeError):
            fit(data, [Explode(RuntimeError("boom"))], epochs=3)
        assert mlflow.active_run().info.run_id == run.info.run_id
        assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == "RUNNING"


def test_next_fit_closes_a_run_left_open_by_a_failed_fit(data, tracking_uri):
    first = MlflowCallback(log_model=False)
    with pytest.raises(RuntimeError):
        fit(data, [first, Explode(RuntimeError("boom"))], epochs=3)
    second = MlflowCallback(log_model=False)
    fit(data, [second], epochs=1)
    client = mlflow.MlflowClient()
    assert client.get_run(first.active_run_id).info.status == "FAILED"
    assert client.get_run(second.active_run_id).info.status == "FINISHED"
    assert second.active_run_id != first.active_run_id


@pytest.mark.slow  # trains in a subprocess
def test_uncaught_exception_in_a_script_marks_the_run_failed(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'examples')!r}]\n"
        "import tensorflow as tf\n"
        "from demo_corpus import demo_corpus\n"
        "from kashgari.tasks.labeling import BiGRU_Model\n"
        "from kashgari_mlflow import MlflowCallback\n"
        "class Boom(tf.keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        raise RuntimeError('boom')\n"
        "x, y, dx, dy = demo_corpus(64, 16)\n"
        "BiGRU_Model().fit(x, y, dx, dy, epochs=2, callbacks=[MlflowCallback(), Boom()],\n"
        "                  fit_kwargs={'verbose': 0})\n"
    )
    nothing_configured = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=nothing_configured,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs(["0"])
    assert run.info.status == "FAILED"
    assert "loss" in run.data.metrics
