"""The failure policy against a real ``mlflow server`` that goes down during training."""

from pathlib import Path

import mlflow
import pytest
import tensorflow as tf
from mlflow.exceptions import MlflowException

from kashgari_mlflow import MlflowCallback, TrackingWarning

from ._mlflow_server import MlflowServer
from .conftest import make_tiny_model


class Outage(tf.keras.callbacks.Callback):
    """Stops the server after epoch ``down`` and restarts it after epoch ``up``."""

    def __init__(self, server: MlflowServer, down: int, up: int | None):
        super().__init__()
        self.server, self.down, self.up = server, down, up

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.down:
            self.server.stop()
        if epoch == self.up:
            self.server.start()


# A real server stopped and restarted during training: minutes, so run with -m slow.
pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path):
    server = MlflowServer(tmp_path / "server")
    server.start()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.uri)
    yield server
    if mlflow.active_run() is not None:
        # Ending a run left open needs the server (started again if a test stopped it).
        if server.process is None or server.process.poll() is not None:
            server.start()
        while mlflow.active_run():
            mlflow.end_run()
    mlflow.set_tracking_uri(previous)
    server.stop()


def train(demo_data, callbacks, epochs):
    train_x, train_y, dev_x, dev_y = demo_data
    model = make_tiny_model(data=(train_x[:64], train_y[:64]))
    model.fit(
        train_x[:64], train_y[:64], dev_x[:16], dev_y[:16], batch_size=32, epochs=epochs,
        callbacks=callbacks, fit_kwargs={"verbose": 0},
    )  # fmt: skip


def test_server_outage_loses_nothing_and_does_not_stop_training(demo_data, server):
    callback = MlflowCallback()
    with pytest.warns(TrackingWarning, match="Training continues; metrics are kept"):
        train(demo_data, [Outage(server, down=0, up=2), callback], epochs=4)

    client = mlflow.MlflowClient(server.uri)
    run = client.get_run(callback.active_run_id)
    assert run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "val_entity_f1"):
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == [0, 1, 2, 3], key
    (answer,) = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(["John"])
    assert len(answer["tags"]) == 1


def test_strict_mode_raises_when_the_server_is_down(demo_data, server):
    callback = MlflowCallback(strict=True, log_model=False)
    with pytest.raises((MlflowException, ConnectionError, OSError)):
        train(demo_data, [Outage(server, down=0, up=None), callback], epochs=2)


def test_unreachable_server_at_the_end_keeps_metrics_and_model_locally(
    demo_data, server, monkeypatch
):
    # No retries (a setting of the user's wins over the callback's own): each request
    # to the stopped server fails at once, not after seconds of backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    callback = MlflowCallback(final_flush_seconds=1)
    # Every tracking warning of the fit is caught here: the one this test is about, and
    # "Could not write" when a send during training already meets the outage.
    with pytest.warns(TrackingWarning) as caught:
        train(demo_data, [Outage(server, down=1, up=None), callback], epochs=2)
    messages = " ".join(str(w.message) for w in caught)
    assert "were saved to" in messages
    assert "It was saved to" in messages
    dumped = Path(messages.split("were saved to ")[1].split(".json")[0] + ".json")
    import json

    payload = json.loads(dumped.read_text())
    assert {m["step"] for m in payload["metrics"] if m["key"] == "loss"} == {1}
