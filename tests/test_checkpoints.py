"""Checkpoints in the run, and a stopped training resumed from the newest one."""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pytest
import tensorflow as tf

import kashgari_mlflow
from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._tracking._checkpoint_store import LATEST_TAG, to_keep

from .conftest import MLFLOW_MAJOR, fit_tiny, make_tiny_model


def _entries(values):
    return [{"step": step, "ref": f"r{step}", "value": value} for step, value in values]


def test_retention_keeps_the_newest_and_the_best_then_the_newest_others():
    checkpoints = _entries([(0, 0.2), (1, 0.9), (2, 0.5), (3, 0.4), (4, 0.3)])
    kept, dropped = to_keep(checkpoints, 3, higher_is_better=True)
    assert [c["step"] for c in kept] == [1, 3, 4]
    assert [c["step"] for c in dropped] == [0, 2]
    kept, _ = to_keep(checkpoints, 2, higher_is_better=False)  # a loss: lowest is best
    assert [c["step"] for c in kept] == [0, 4]
    kept, _ = to_keep(_entries([(0, 0.5), (1, 0.5), (2, 0.1)]), 2, higher_is_better=True)
    assert [c["step"] for c in kept] == [0, 2]  # a tie goes to the earlier epoch
    kept, dropped = to_keep(_entries([(0, None), (1, None), (2, None)]), 2, True)
    assert [c["step"] for c in kept] == [1, 2] and [c["step"] for c in dropped] == [0]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"checkpoint_every_n_epochs": -1}, "checkpoint_every_n_epochs must be a whole number"),
        ({"keep_checkpoints": 1}, "keep_checkpoints must be a whole number >= 2"),
        ({"resume": "yes"}, "resume must be True or False"),
    ],
)
def test_bad_checkpoint_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        MlflowCallback(**options)


class _StopAfter(tf.keras.callbacks.Callback):
    """Raise at the end of an epoch, as a crash in the middle of a training would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("the machine went away")


class _FirstBatch(tf.keras.callbacks.Callback):
    """Record the optimizer's count and the weights as the first batch begins."""

    def __init__(self):
        super().__init__()
        self.iterations = None
        self.weights = None

    def on_train_batch_begin(self, batch, logs=None):
        if self.iterations is None:
            self.iterations = int(self.model.optimizer.iterations.numpy())
            self.weights = self.model.get_weights()


def _checkpoints_in_store(client, run_id):
    if MLFLOW_MAJOR >= 3:
        experiment_id = client.get_run(run_id).info.experiment_id
        models = client.search_logged_models([experiment_id])
        return sorted(
            int(m.tags["step"])
            for m in models
            if m.source_run_id == run_id and m.tags.get("kashgari_mlflow.checkpoint") == "true"
            and str(m.status) in ("READY", "LoggedModelStatus.READY")
        )  # fmt: skip
    folders = client.list_artifacts(run_id, "checkpoints")
    return sorted(int(f.path.rsplit("-", 1)[1]) for f in folders)


class _EpochCount(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_a_crashed_training_resumes_in_its_run_from_the_newest_checkpoint(
    demo_data, tracking_uri, caplog
):
    train_x, train_y, dev_x, dev_y = demo_data
    data = (train_x[:64], train_y[:64], dev_x[:16], dev_y[:16])
    options = {"run_name": "preemptible", "checkpoint_every_n_epochs": 2, "keep_checkpoints": 2}
    options["log_model"] = False  # the slow tier's preemption test loads the final model

    first = MlflowCallback(**options, log_every_n_steps=1)
    model = make_tiny_model(data=data[:2])
    with pytest.raises(RuntimeError, match="the machine went away"):
        fit_tiny(data, [first, _StopAfter(2)], epochs=4, model=model)
    client = mlflow.MlflowClient()
    run_id = first.active_run_id
    assert _checkpoints_in_store(client, run_id) == [1]  # epoch 2 was not due (every 2)
    saved_iterations = int(model.tf_model.optimizer.iterations.numpy())
    saved_weights = model.tf_model.get_weights()

    # The same script again in this process (the error was caught), here with autolog; a
    # new process would build the same model on the same data just the same.
    kashgari_mlflow.autolog(resume=True, **options, log_every_n_steps=1)
    again = make_tiny_model(data=data[:2])
    resumed = _FirstBatch()

    try:
        with caplog.at_level(logging.INFO, logger="kashgari_mlflow"):
            fit_tiny(data, [resumed], epochs=4, model=again)
    finally:
        kashgari_mlflow.autolog(disable=True)
    # The crashed run was closed first, storing its last completed epoch (2), not 1.
    assert f"Resumed run {run_id} from the checkpoint of epoch 2" in caplog.text
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id])) == 1
    assert resumed.iterations == saved_iterations  # Adam's count and moments restored
    assert all(np.array_equal(a, b) for a, b in zip(resumed.weights, saved_weights, strict=True))
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "val_entity_f1"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == [0, 1, 2, 3]
    batch_steps = [m.step for m in client.get_metric_history(run_id, "train_step/loss")]
    assert sorted(batch_steps) == list(range(1, 9))  # 2 batches an epoch, none twice
    stored = _checkpoints_in_store(client, run_id)
    assert len(stored) == 2 and stored[-1] == 3  # the newest, and the best by val_entity_f1
    assert '"step": 3' in run.data.tags[LATEST_TAG]

    # Nothing left to train: said so, and the next fit of the model trains as asked.
    nothing = MlflowCallback(resume=True, run_id=run_id, **options)
    with caplog.at_level(logging.WARNING, logger="kashgari_mlflow"):
        fit_tiny(data, [nothing], epochs=4, model=again)
    assert "leaves no epoch to train" in caplog.text
    count = _EpochCount()
    fit_tiny(data, [count], epochs=1, model=again)
    assert count.epochs == [0]


def test_resuming_a_run_without_checkpoints_says_so_and_starts_at_the_first_epoch(
    demo_data, tracking_uri, caplog
):
    train_x, train_y, dev_x, dev_y = demo_data
    data = (train_x[:64], train_y[:64], dev_x[:16], dev_y[:16])
    with mlflow.start_run() as run:
        pass
    callback = MlflowCallback(run_id=run.info.run_id, resume=True, log_model=False)
    with caplog.at_level(logging.WARNING, logger="kashgari_mlflow"):
        fit_tiny(data, [callback], epochs=1)
    assert callback.resumed_at_epoch is None
    assert f"Run {run.info.run_id} has no checkpoint to resume from" in caplog.text
    assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"


def test_a_checkpoint_of_another_model_is_refused_before_anything_is_logged(
    demo_data, tracking_uri
):
    train_x, train_y, dev_x, dev_y = demo_data
    data = (train_x[:64], train_y[:64], dev_x[:16], dev_y[:16])
    first = MlflowCallback(checkpoint_every_n_epochs=1, log_model=False)
    fit_tiny(data, [first], epochs=1)
    client = mlflow.MlflowClient()
    before = client.get_run(first.active_run_id)
    others = {
        "other token or label vocabularies": make_tiny_model(
            data=(train_x[100:140], train_y[100:140])
        ),
        "another model class, other hyper-parameters or another embedding": make_tiny_model(
            "BiLSTM_Model", data=data[:2]
        ),
        "another embedding": make_tiny_model(embedding_size=8, data=data[:2]),
    }
    for message, other in others.items():
        callback = MlflowCallback(run_id=first.active_run_id, resume=True, log_model=False)
        with pytest.raises(ValueError, match=message):
            fit_tiny(data, [callback], epochs=2, model=other)
    after = client.get_run(first.active_run_id)
    assert after.info.status == "FINISHED" and after.data.params == before.data.params


def test_a_nested_training_resumes_its_own_child_run_and_leaves_the_parent_open(
    demo_data, tracking_uri
):
    train_x, train_y, dev_x, dev_y = demo_data
    data = (train_x[:64], train_y[:64], dev_x[:16], dev_y[:16])
    # Every 2 epochs: the crashed epoch 0 is stored only when its run is closed, which
    # must happen before the run named here is resumed.
    options = {"nested": True, "resume": True, "checkpoint_every_n_epochs": 2, "log_model": False}
    client = mlflow.MlflowClient()
    with mlflow.start_run() as parent:
        first = MlflowCallback(**options)
        with pytest.raises(RuntimeError, match="the machine went away"):
            fit_tiny(data, [first, _StopAfter(0)], epochs=2)
        second = MlflowCallback(run_id=first.active_run_id, **options)
        fit_tiny(data, [second], epochs=2)
        assert mlflow.active_run().info.run_id == parent.info.run_id
        assert client.get_run(parent.info.run_id).info.status == "RUNNING"
    child = client.get_run(first.active_run_id)
    assert second.active_run_id == child.info.run_id
    assert second.resumed_at_epoch == 1
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(child.info.run_id, "loss")) == [0, 1]
    assert "loss" not in client.get_run(parent.info.run_id).data.metrics


def test_a_crashed_classification_training_resumes_with_its_weights(demo_data, tracking_uri):
    from kashgari.tasks.classification import BiLSTM_Model

    train_x, train_y, dev_x, dev_y = demo_data

    def labels(tags):
        return ["org" if any(t.endswith("ORG") for t in seq) else "other" for seq in tags]

    data = (train_x[:32], labels(train_y[:32]), dev_x[:8], labels(dev_y[:8]))
    options = {"checkpoint_every_n_epochs": 1, "log_model": False}

    def fit(model, callbacks, epochs=2):
        np.random.seed(0)
        model.fit(*data, batch_size=32, epochs=epochs, callbacks=callbacks,
                  fit_kwargs={"verbose": 0})  # fmt: skip

    first = MlflowCallback(run_name="classes", **options)
    model = BiLSTM_Model()
    with pytest.raises(RuntimeError, match="the machine went away"):
        fit(model, [first, _StopAfter(0)])
    run_id = first.active_run_id
    saved_iterations = int(model.tf_model.optimizer.iterations.numpy())
    saved_weights = model.tf_model.get_weights()

    resumed = _FirstBatch()

    again = BiLSTM_Model()
    fit(again, [MlflowCallback(run_name="classes", resume=True, **options), resumed])
    assert resumed.iterations == saved_iterations
    assert all(np.array_equal(a, b) for a, b in zip(resumed.weights, saved_weights, strict=True))
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert len(client.search_runs([run.info.experiment_id])) == 1
    for key in ("loss", "val_loss", "val_class_f1", "val_class_f1/org"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == [0, 1], key
