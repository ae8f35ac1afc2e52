"""The callback's hooks wired to its collaborators, driven by hand with fakes (no training)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import mlflow
import pytest

from kashgari_mlflow import MlflowCallback, TrackingWarning

FakeLabelingModel = type("FakeLabelingModel", (), {"__module__": "kashgari.tasks.labeling.fake"})


class _Network:
    """The Keras side: weights that change every epoch, a summary, no optimizer."""

    def __init__(self) -> None:
        self.weights = [0]

    def get_weights(self) -> list[int]:
        return list(self.weights)

    def set_weights(self, weights: list[int]) -> None:
        self.weights = list(weights)

    def summary(self, print_fn: Any, line_length: int) -> None:
        print_fn("fake network")


def _kash_model() -> Any:
    model = FakeLabelingModel()
    model.tf_model = None
    model.embedding = SimpleNamespace()
    model.text_processor = SimpleNamespace(vocab2idx={"a": 1})
    model.label_processor = SimpleNamespace(vocab2idx={"O": 0, "B-PER": 1})
    model.to_dict = lambda: {"embedding": {}}
    return model


def train(
    callback: MlflowCallback, losses: list[float], initial_epoch: int = 0, network: Any = None
) -> None:
    network = network or _Network()
    callback.set_model(network)
    callback.set_params({"epochs": initial_epoch + len(losses), "steps": 2})
    callback.on_train_begin()
    for epoch, loss in enumerate(losses, start=initial_epoch):
        callback.on_epoch_begin(epoch)
        for batch in range(2):
            callback.on_train_batch_end(batch, {"loss": loss, "batch": batch, "size": 8})
        network.weights = [epoch]
        callback.on_epoch_end(epoch, {"loss": loss, "val_loss": loss + 1})
    callback.on_train_end()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One SQLite store for the module (creating its tables costs seconds)."""
    folder = tmp_path_factory.mktemp("store")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # artifacts of a SQLite store go to ./mlruns
        mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
        yield mlflow.MlflowClient()
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri("")


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_hooks_log_steps_best_epoch_batches_and_close_the_run(store: Any) -> None:
    callback = MlflowCallback(_kash_model(), log_model=False, log_every_n_steps=3)
    train(callback, [0.9, 0.5, 0.7])
    run_id = str(callback.active_run_id)
    run = store.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "3" and run.data.params["log_model"] == "False"
    assert run.data.tags["kashgari_mlflow.task"] == "labeling"
    assert history(store, run_id, "loss") == [(0, 0.9), (1, 0.5), (2, 0.7)]
    assert [step for step, _ in history(store, run_id, "train_step/loss")] == [3, 6]
    assert "best_epoch" not in run.data.metrics  # log_model=False keeps no best weights
    artifacts = {a.path for a in store.list_artifacts(run_id, "kashgari")}
    assert "kashgari/model_summary.txt" in artifacts


def test_best_epoch_by_val_loss_and_a_second_fit_continues_the_steps(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kashgari_mlflow.flavor as flavor

    logged: list[Any] = []
    monkeypatch.setattr(
        flavor, "log_model", lambda kash_model, name, **kw: logged.append((name, network.weights))
    )
    network = _Network()
    with mlflow.start_run() as run:
        first = MlflowCallback(_kash_model(), monitor="val_loss", mode="min")
        train(first, [0.9, 0.4, 0.6], network=network)
        assert logged == [("model", [1])]  # the best epoch's weights, then restored
        assert network.weights == [2]
        run_id = run.info.run_id
        metrics = store.get_run(run_id).data.metrics
        assert (metrics["best_epoch"], metrics["best_val_loss"]) == (1, pytest.approx(1.4))
        with pytest.warns(TrackingWarning, match=r"Params \['epochs', 'log_model'\] already"):
            train(MlflowCallback(_kash_model(), log_model=False), [0.3, 0.2])
        assert [step for step, _ in history(store, run_id, "loss")] == [0, 1, 2, 3, 4]
        assert store.get_run(run_id).info.status == "RUNNING"  # the user's run stays open


def test_an_aborted_fit_leaves_its_own_run_failed(store: Any) -> None:
    callback = MlflowCallback(_kash_model(), log_model=False)
    callback.set_model(_Network())
    callback.set_params({"epochs": 2, "steps": 1})
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0, {"loss": 1.0})
    callback.abort("KILLED")  # what autolog does when fit raises
    assert store.get_run(str(callback.active_run_id)).info.status == "KILLED"


@pytest.mark.parametrize("log_every_n_steps", [None, 2])
def test_keras_calls_batch_hooks_only_for_batch_metrics(log_every_n_steps: int | None) -> None:
    # With batch hooks Keras turns each batch's logs into numbers, a wait per batch.
    import tensorflow as tf

    callbacks = tf.keras.callbacks.CallbackList(
        [MlflowCallback(log_every_n_steps=log_every_n_steps)]
    )
    assert callbacks._should_call_train_batch_hooks is (log_every_n_steps is not None)
