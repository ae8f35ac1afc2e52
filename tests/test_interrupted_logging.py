"""Nothing half-done: a crash or Ctrl-C never leaves a partly uploaded model registered."""

import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest
import tensorflow as tf
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from kashgari_mlflow import MlflowCallback, TrackingWarning
from kashgari_mlflow._registry import IncompleteModelError, check_uploaded

from .conftest import ROOT, fit_tiny

try:
    from mlflow.entities import LoggedModelStatus
except ImportError:  # MLflow 2: no logged models, whose status these tests check
    pytest.skip("logged models and their status exist from MLflow 3", allow_module_level=True)

NAME = "ner-guarded"


class Explode(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("boom")


@pytest.fixture
def data(demo_data):
    train_x, train_y, dev_x, dev_y = demo_data
    return train_x[:64], train_y[:64], dev_x[:16], dev_y[:16]


def _model_uploads(patched):
    """Route the upload of a whole model folder (it holds an MLmodel) through ``patched``."""
    original = LocalArtifactRepository.log_artifacts

    def log_artifacts(self, local_dir, artifact_path=None):
        if not os.path.isfile(os.path.join(local_dir, "MLmodel")):
            return original(self, local_dir, artifact_path)
        return patched(original, self, local_dir, artifact_path)

    return log_artifacts


def _nothing_registered(client):
    assert client.search_model_versions(f"name='{NAME}'") == []
    assert client.search_registered_models() == []  # so no alias either


def _clean_training_registers_version_1(data, client):
    callback = MlflowCallback(registered_model_name=NAME, eval_every_n_epochs=0)
    fit_tiny(data, [callback], epochs=1)
    (version,) = client.search_model_versions(f"name='{NAME}'")
    assert int(version.version) == 1
    assert version.status == "READY"
    assert client.get_registered_model(NAME).aliases == {}
    check_uploaded(f"models:/{NAME}/1", ["MLmodel", "data/model_weights.h5"])
    pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    assert len(pyfunc.predict(["John lives in Paris"])[0]["tags"]) == 4
    return callback


def test_ctrl_c_during_the_model_upload_registers_nothing(data, tracking_uri, monkeypatch):
    def upload_data_then_interrupt(original, repository, local_dir, artifact_path):
        original(repository, os.path.join(local_dir, "data"), "data")  # part of the model
        raise KeyboardInterrupt

    monkeypatch.setattr(
        LocalArtifactRepository, "log_artifacts", _model_uploads(upload_data_then_interrupt)
    )
    callback = MlflowCallback(registered_model_name=NAME, eval_every_n_epochs=0)
    with pytest.raises(KeyboardInterrupt):
        fit_tiny(data, [callback], epochs=1)

    client = mlflow.MlflowClient()
    _nothing_registered(client)
    assert client.get_run(callback.active_run_id).info.status == "KILLED"
    (half,) = mlflow.search_logged_models(output_format="list")
    assert half.status == LoggedModelStatus.FAILED
    uploaded = {entry.path for entry in client.list_logged_model_artifacts(half.model_id)}
    assert uploaded == {"data"}  # the upload really stopped midway

    monkeypatch.undo()
    _clean_training_registers_version_1(data, client)


def test_an_upload_missing_a_file_is_not_registered(data, tracking_uri, monkeypatch):
    def upload_without_weights(original, repository, local_dir, artifact_path):
        os.remove(os.path.join(local_dir, "data", "model_weights.h5"))
        original(repository, local_dir, artifact_path)

    monkeypatch.setattr(
        LocalArtifactRepository, "log_artifacts", _model_uploads(upload_without_weights)
    )
    callback = MlflowCallback(registered_model_name=NAME, eval_every_n_epochs=0)
    with pytest.warns(TrackingWarning, match=r"IncompleteModelError: .*data/model_weights\.h5"):
        fit_tiny(data, [callback], epochs=1)

    client = mlflow.MlflowClient()
    _nothing_registered(client)
    assert client.get_run(callback.active_run_id).info.status == "FINISHED"
    (incomplete,) = mlflow.search_logged_models(output_format="list")
    assert incomplete.status == LoggedModelStatus.FAILED


def test_incomplete_upload_is_an_error_naming_the_files(logged_model):
    model_uri = logged_model.info.model_uri
    check_uploaded(model_uri, ["MLmodel", "data/model_config.json"])
    with pytest.raises(IncompleteModelError, match=r"missing: \['data/absent.h5'\]"):
        check_uploaded(model_uri, ["MLmodel", "data/absent.h5"])


def test_a_crash_during_fit_registers_nothing(data, tracking_uri):
    crashed = MlflowCallback(registered_model_name=NAME, eval_every_n_epochs=0)
    with pytest.raises(RuntimeError, match="boom"):
        fit_tiny(data, [crashed, Explode()], epochs=3)
    client = mlflow.MlflowClient()
    _nothing_registered(client)
    assert mlflow.search_logged_models(output_format="list") == []

    _clean_training_registers_version_1(data, client)
    assert client.get_run(crashed.active_run_id).info.status == "FAILED"


SIGINT_SCRIPT = """
import sys
from pathlib import Path

import tensorflow as tf

from demo_corpus import demo_corpus
from tests.conftest import fit_tiny
from kashgari_mlflow import MlflowCallback


class Mark(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            Path("epoch1.done").touch()


data = demo_corpus(64, 16)
fit_tiny(data, [MlflowCallback(registered_model_name=sys.argv[1]), Mark()], epochs=500)
"""


@pytest.mark.slow
def test_sigint_during_fit_kills_the_run_and_registers_nothing(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SIGINT_SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "examples")]),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    log = tmp_path / "train.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(script), NAME],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not (tmp_path / "epoch1.done").exists():
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "no second epoch within 180 s"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = log.read_text(errors="replace")
    assert process.returncode != 0
    assert "KeyboardInterrupt" in output

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs(["0"])
    assert run.info.status == "KILLED"
    assert "loss" in run.data.metrics
    assert client.search_registered_models() == []
    assert client.search_logged_models(["0"]) == []
