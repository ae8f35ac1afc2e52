"""Artifacts, datasets, early stopping, step logging, params limits, nesting and resuming."""

import contextlib
import json
from pathlib import Path

import mlflow
import pytest
import tensorflow as tf

from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._params import make_safe

from .conftest import MLFLOW_MAJOR, fit_tiny, make_tiny_model


@pytest.fixture(scope="module")
def data(demo_data):
    train_x, train_y, dev_x, dev_y = demo_data
    return train_x[:96], train_y[:96], dev_x[:32], dev_y[:32]


def fit(data, callbacks, epochs=2):
    return fit_tiny(data, callbacks, epochs=epochs)


def test_artifacts_and_datasets_of_a_run(data, tracking_uri):
    callback = MlflowCallback(log_model=False)
    fit(data, [callback])
    client = mlflow.MlflowClient()
    run_id = callback.active_run_id

    def listing(folder):
        return {a.path for a in client.list_artifacts(run_id, folder)}

    assert listing("plots") == {
        "plots/learning_curves.png",
        "plots/entity_f1_by_type.png",
        "plots/entity_type_confusion.png",
    }
    confusion_file = client.download_artifacts(run_id, "error_analysis/type_confusion.json")
    confusion = json.loads(Path(confusion_file).read_text())
    assert set(confusion["labels"]) >= {"PER", "LOC", "ORG", "(none)"}
    assert "error_analysis/errors.html" in listing("error_analysis")
    assert listing("kashgari") == {
        "kashgari/labels.json",
        "kashgari/model_config.json",
        "kashgari/model_summary.txt",
    }
    png = client.download_artifacts(run_id, "plots/learning_curves.png")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = Path(client.download_artifacts(run_id, "kashgari/model_summary.txt")).read_text()
    assert "Total params" in summary

    inputs = client.get_run(run_id).inputs.dataset_inputs
    by_context = {i.tags[0].value: i.dataset for i in inputs}
    assert set(by_context) == {"training", "validation"}
    profile = json.loads(by_context["training"].profile)
    assert profile["sentences"] == 96
    assert profile["tokens"] == sum(len(s) for s in data[0])
    assert set(profile["entities"]) == {"PER", "LOC", "ORG"}
    assert len(by_context["training"].digest) == 8


def test_early_stopping_settings_and_epochs_are_logged(data, tracking_uri):
    stopper = tf.keras.callbacks.EarlyStopping(
        monitor="loss", patience=1, min_delta=100.0, restore_best_weights=True
    )
    callback = MlflowCallback(log_model=False)
    fit(data, [stopper, callback], epochs=6)
    run = mlflow.MlflowClient().get_run(callback.active_run_id)
    assert run.data.params["early_stopping.monitor"] == "loss"
    assert run.data.params["early_stopping.patience"] == "1"
    assert run.data.params["early_stopping.restore_best_weights"] == "True"
    assert run.data.metrics["stopped_epoch"] == stopper.stopped_epoch
    assert run.data.metrics["restored_epoch"] == stopper.best_epoch


def test_log_every_n_steps_logs_batch_metrics_at_global_steps(data, tracking_uri):
    callback = MlflowCallback(log_model=False, log_every_n_steps=2, eval_every_n_epochs=0)
    fit(data, [callback], epochs=2)  # 3 batches an epoch: global batches 2, 4, 6
    history = mlflow.MlflowClient().get_metric_history(callback.active_run_id, "train_step/loss")
    assert sorted(m.step for m in history) == [2, 4, 6]


def test_long_param_values_are_truncated_with_a_warning():
    with pytest.warns(UserWarning, match=r"longer than MLflow's limit of 6000"):
        safe = make_safe({"labels": ["x" * 50] * 500, "bad key?": 1})
    assert len(safe["labels"]) == 6000
    assert safe["labels"].endswith("...[truncated]")
    assert "bad key_" in safe


def test_nested_run_and_resume_by_run_id(data, tracking_uri, monkeypatch):
    with mlflow.start_run() as parent:
        child = MlflowCallback(log_model=False, nested=True, eval_every_n_epochs=0)
        fit(data, [child], epochs=1)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    client = mlflow.MlflowClient()
    child_run = client.get_run(child.active_run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.info.status == "FINISHED"

    monkeypatch.setenv("MLFLOW_RUN_ID", child.active_run_id)
    resumed = MlflowCallback(log_model=False, eval_every_n_epochs=0)
    fit(data, [resumed], epochs=1)
    assert resumed.active_run_id == child.active_run_id
    assert sorted(m.step for m in client.get_metric_history(child.active_run_id, "loss")) == [0, 1]


def test_asynchronous_logging_sends_everything_by_train_end(data, tracking_uri):
    callback = MlflowCallback(log_model=False, synchronous=False, log_every_n_steps=1)
    fit(data, [callback], epochs=3)
    client = mlflow.MlflowClient()
    run = client.get_run(callback.active_run_id)
    assert run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "val_entity_f1"):
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, key)) == [0, 1, 2]
    assert len(client.get_metric_history(run.info.run_id, "train_step/loss")) == 9


def test_learning_rate_schedule_is_logged_each_epoch(data, tracking_uri):
    train_x, train_y, _, _ = data
    model = make_tiny_model()
    model.build_model(train_x, train_y)
    schedule = tf.keras.optimizers.schedules.ExponentialDecay(0.02, decay_steps=1, decay_rate=0.5)
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=schedule))
    callback = MlflowCallback(log_model=False, eval_every_n_epochs=0)
    model.fit(train_x, train_y, batch_size=32, epochs=2, callbacks=[callback],
              fit_kwargs={"verbose": 0})  # fmt: skip
    client = mlflow.MlflowClient()
    history = client.get_metric_history(callback.active_run_id, "learning_rate")
    values = [m.value for m in sorted(history, key=lambda m: m.step)]
    # The rate the epoch's last batch used: 3 batches an epoch, steps 0..2 then 3..5.
    assert values == pytest.approx([0.02 * 0.5**2, 0.02 * 0.5**5])
    params = client.get_run(callback.active_run_id).data.params
    assert params["optimizer.learning_rate"] == "ExponentialDecay"
    assert params["optimizer.learning_rate.decay_rate"] == "0.5"


def test_registered_model_and_environment_settings(data, tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    monkeypatch.setenv("MLFLOW_NESTED_RUN", "true")
    with mlflow.start_run() as parent:
        callback = MlflowCallback(registered_model_name="wnut-ner", eval_every_n_epochs=0)
        fit(data, [callback], epochs=1)
    client = mlflow.MlflowClient()
    run = client.get_run(callback.active_run_id)
    assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert mlflow.get_experiment(run.info.experiment_id).name == "from-env"
    (version,) = client.search_model_versions("name='wnut-ner'")
    assert int(version.version) == 1
    pyfunc = mlflow.pyfunc.load_model("models:/wnut-ner/1")
    assert len(pyfunc.predict(["John lives in Paris"])[0]["tags"]) == 4


def test_logged_model_carries_a_serving_input_example(data, tracking_uri):
    from mlflow.models import validate_serving_input

    callback = MlflowCallback(log_model="last")
    fit(data, [callback], epochs=1)
    model_dir = mlflow.artifacts.download_artifacts(f"runs:/{callback.active_run_id}/model")
    example = json.loads((Path(model_dir) / "serving_input_example.json").read_text())
    dev_x = data[2]
    assert example == {"inputs": [" ".join(dev_x[0]), " ".join(dev_x[1])]}
    # MLflow 3 deprecates it for mlflow.models.predict.
    deprecated = pytest.warns(FutureWarning) if MLFLOW_MAJOR >= 3 else contextlib.nullcontext()
    with deprecated:
        answer = validate_serving_input(model_dir, json.dumps(example))
    assert [a["tokens"] for a in answer] == [dev_x[0], dev_x[1]]


def test_experiment_created_by_a_racing_process_is_reused(data, tracking_uri, monkeypatch):
    # Another process creates the experiment between the callback's lookup and its create.
    real_lookup = mlflow.get_experiment_by_name
    calls = []

    def lookup(name):
        calls.append(name)
        if len(calls) == 1:
            mlflow.create_experiment(name)
            return None
        return real_lookup(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", lookup)
    callback = MlflowCallback(experiment_name="raced", log_model=False, eval_every_n_epochs=0)
    fit(data, [callback], epochs=1)
    run = mlflow.MlflowClient().get_run(callback.active_run_id)
    assert run.info.experiment_id == real_lookup("raced").experiment_id
    assert run.info.status == "FINISHED"


class _RacingClient:
    """``log_inputs`` fails like a server that lost the insert race ``failures`` times."""

    def __init__(self, failures: int, message: str) -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def log_inputs(self, run_id, datasets):
        self.calls += 1
        if self.calls <= self.failures:
            raise mlflow.exceptions.MlflowException(self.message)


DUPLICATE = (
    "BAD_REQUEST: (psycopg2.errors.UniqueViolation) duplicate key value violates unique "
    'constraint "dataset_pk"'
)


def _corpus(data):
    from kashgari_mlflow._datasets import make_dataset

    return [(make_dataset(data[0], data[1], "train"), "training")]


def test_a_dataset_inserted_by_a_parallel_training_is_linked_on_retry(data):
    from kashgari_mlflow._datasets import log_datasets

    client = _RacingClient(failures=1, message=DUPLICATE)
    log_datasets(client, "run", _corpus(data))
    assert client.calls == 2


def test_other_dataset_errors_and_endless_duplicates_are_raised(data):
    from kashgari_mlflow._datasets import DUPLICATE_DATASET_ATTEMPTS, log_datasets

    client = _RacingClient(failures=1, message="INVALID_PARAMETER_VALUE: bad dataset")
    with pytest.raises(mlflow.exceptions.MlflowException, match="bad dataset"):
        log_datasets(client, "run", _corpus(data))
    assert client.calls == 1
    client = _RacingClient(failures=99, message=DUPLICATE)
    with pytest.raises(mlflow.exceptions.MlflowException, match="dataset_pk"):
        log_datasets(client, "run", _corpus(data))
    assert client.calls == DUPLICATE_DATASET_ATTEMPTS
