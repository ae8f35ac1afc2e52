import mlflow
import pytest

from kashgari_mlflow import MlflowCallback, TrackingWarning

from .conftest import MLFLOW_MAJOR, fit_tiny

EPOCHS = 2


@pytest.fixture(scope="module")
def small_data(demo_data):
    train_x, train_y, dev_x, dev_y = demo_data
    return train_x[:96], train_y[:96], dev_x[:32], dev_y[:32]


def fit(data, callback, epochs=EPOCHS, model=None):
    return fit_tiny(data, [callback], epochs=epochs, model=model)


def steps(client, run_id, key):
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_zero_argument_callback_tracks_everything(small_data, tracking_uri):
    callback = MlflowCallback()
    model = fit(small_data, callback)
    client = mlflow.MlflowClient()
    run = client.get_run(callback.active_run_id)

    assert run.info.status == "FINISHED"
    assert mlflow.active_run() is None
    params = run.data.params
    assert len(params) >= 10
    assert params["model.class"] == "BiLSTM_CRF_Model"
    assert params["hyper_parameters.layer_blstm.units"] == "16"
    assert params["embedding.class"] == "BareEmbedding"
    assert params["embedding.embedding_size"] == "16"
    assert params["epochs"] == str(EPOCHS)
    assert params["batch_size"] == "32"
    assert params["optimizer.name"] == "Adam"
    assert params["optimizer.learning_rate"] == "0.02"  # as typed, not float32 noise
    assert params["vocab_size"] == str(len(model.text_processor.vocab2idx))
    assert params["num_labels"] == "7"
    assert params["train_sentences"] == "96"
    assert run.data.tags["versions.kashgari"] == "2.0.2"
    assert run.data.tags["versions.tensorflow"].startswith("2.15")
    assert "versions.mlflow" in run.data.tags

    for key in (
        "loss",
        "val_loss",
        "accuracy",
        "learning_rate",
        "val_entity_f1",
        "val_entity_f1/PER",
        "val_strict_f1",
        "val_partial_partial",
        "val_errors_boundary",
        "val_unseen_entity_f1",
        "val_entity_f1_length_1",
    ):
        assert steps(client, run.info.run_id, key) == list(range(EPOCHS)), key
    # The error analysis scores the same predictions as the entity F1.
    strict = client.get_metric_history(run.info.run_id, "val_strict_f1")
    entity = client.get_metric_history(run.info.run_id, "val_entity_f1")
    assert [m.value for m in strict] == pytest.approx([m.value for m in entity])

    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    (answer,) = pyfunc.predict(["John lives in New York"])
    assert len(answer["tags"]) == 5
    if MLFLOW_MAJOR >= 3:  # the logged model shows the scores of the weights it holds
        best_epoch = int(run.data.metrics["best_epoch"])
        logged = client.get_logged_model(callback.model_info.model_id)
        assert {metric.step for metric in logged.metrics} == {best_epoch}
        (f1,) = [metric for metric in logged.metrics if metric.key == "val_entity_f1"]
        history = client.get_metric_history(run.info.run_id, "val_entity_f1")
        assert f1.value == pytest.approx({m.step: m.value for m in history}[best_epoch])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "entity_report")}
    assert artifacts == {"entity_report/report.txt", "entity_report/report.json"}
    analysis = {a.path for a in client.list_artifacts(run.info.run_id, "error_analysis")}
    assert {"error_analysis/type_confusion.json", "error_analysis/errors.html"} <= analysis


def test_users_active_run_is_reused_and_left_open(small_data, tracking_uri):
    with mlflow.start_run() as run:
        callback = MlflowCallback(log_model=False)
        fit(small_data, callback)
        assert callback.active_run_id == run.info.run_id
        assert mlflow.active_run().info.run_id == run.info.run_id
        assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == "RUNNING"
    assert mlflow.MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"


def test_continued_training_in_one_run_continues_the_steps(small_data, tracking_uri):
    client = mlflow.MlflowClient()
    with mlflow.start_run() as run:
        model = fit(small_data, MlflowCallback(log_model=False))
        with pytest.warns(TrackingWarning, match=r"Params \['epochs'\] already have other values"):
            fit(small_data, MlflowCallback(log_model=False), epochs=3, model=model)
    assert steps(client, run.info.run_id, "loss") == list(range(EPOCHS + 3))
    assert client.get_run(run.info.run_id).data.params["epochs"] == str(EPOCHS)


def test_callback_is_reusable_across_fits(small_data, tracking_uri):
    callback = MlflowCallback(log_model=False, eval_every_n_epochs=0)
    fit(small_data, callback)
    first = callback.active_run_id
    fit(small_data, callback)
    assert callback.active_run_id != first
    client = mlflow.MlflowClient()
    assert client.get_run(first).info.status == "FINISHED"
    assert client.get_run(callback.active_run_id).info.status == "FINISHED"
    assert "val_entity_f1" not in client.get_run(first).data.metrics


def test_experiment_run_name_tags_and_env_tags(small_data, tracking_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_TAGS", '{"team": "nlp"}')
    callback = MlflowCallback(
        experiment_name="ner-exp", run_name="first", tags={"stage": "dev"}, log_model=False
    )
    fit(small_data, callback)
    run = mlflow.MlflowClient().get_run(callback.active_run_id)
    assert mlflow.get_experiment(run.info.experiment_id).name == "ner-exp"
    assert run.info.run_name == "first"
    assert run.data.tags["team"] == "nlp"
    assert run.data.tags["stage"] == "dev"


def test_best_model_is_logged_with_its_epoch(small_data, tracking_uri):
    callback = MlflowCallback(log_model="best", monitor="val_loss")
    fit(small_data, callback, epochs=3)
    run = mlflow.MlflowClient().get_run(callback.active_run_id)
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_loss")
    best = min(history, key=lambda m: m.value)
    assert run.data.metrics["best_epoch"] == best.step
    assert run.data.metrics["best_val_loss"] == pytest.approx(best.value)
    assert callback.model_info is not None
    if MLFLOW_MAJOR >= 3:  # the best epoch's scores, not the first's or the last's
        logged = mlflow.MlflowClient().get_logged_model(callback.model_info.model_id)
        (val_loss,) = [metric for metric in logged.metrics if metric.key == "val_loss"]
        assert (val_loss.step, val_loss.value) == (best.step, pytest.approx(best.value))


def test_explicit_model_wins_and_a_plain_keras_model_gets_a_clear_error(small_data, tracking_uri):
    import numpy as np
    import tensorflow as tf

    keras_model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(2,))])
    keras_model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"pass it explicitly: MlflowCallback\(kash_model=model\)"):
        keras_model.fit(np.zeros((4, 2)), np.zeros(4), callbacks=[MlflowCallback()], verbose=0)
    while mlflow.active_run():
        mlflow.end_run()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"log_model": "worst"}, "log_model must be"),
        ({"scheme": "BILOU"}, "scheme must be one of"),
        ({"eval_every_n_epochs": -1}, "eval_every_n_epochs must be"),
        ({"eval_data": ([["a"]],)}, "eval_data must be a pair"),
        ({"eval_batch_size": 0}, "eval_batch_size must be"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MlflowCallback(**kwargs)
