"""Every Kashgari labeling model: tracked by the callback, and its pyfunc tags equal Kashgari's."""

import mlflow
import pytest

from kashgari_mlflow import MlflowCallback

from .conftest import kashgari_tags, make_tiny_model

pytestmark = pytest.mark.graph_mode  # the path users run

# The default tier keeps one softmax model here; its CRF counterpart is the session's
# `trained_model` (tests/test_flavor.py) and the callback tests' model. The other
# four classes train for about a minute together: slow tier.
MODELS = [
    "BiLSTM_Model",
    *(
        pytest.param(name, marks=pytest.mark.slow)
        for name in ("BiLSTM_CRF_Model", "BiGRU_Model", "BiGRU_CRF_Model", "CNN_LSTM_Model")
    ),
]


@pytest.mark.parametrize("model_class", MODELS)
def test_model_is_tracked_and_pyfunc_matches_kashgari(model_class, demo_data, tracking_uri):
    train_x, train_y, dev_x, dev_y = demo_data
    model = make_tiny_model(model_class, data=(train_x[:96], train_y[:96]), keras_default_rnn=True)
    callback = MlflowCallback(log_model="last")  # the in-memory weights, to compare with
    model.fit(
        train_x[:96],
        train_y[:96],
        dev_x[:40],
        dev_y[:40],
        batch_size=32,
        epochs=2,
        callbacks=[callback],
        fit_kwargs={"verbose": 0},
    )
    run = mlflow.MlflowClient().get_run(callback.active_run_id)
    assert run.data.params["model.class"] == model_class
    assert "val_entity_f1" in run.data.metrics

    sentences = [*dev_x[:40], ["a"], ["unseen", "words", "in", "a", "much", "longer", "line"] * 4]
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{callback.active_run_id}/model")
    answers = pyfunc.predict(sentences, params={"batch_size": 8})
    assert [a["tags"] for a in answers] == kashgari_tags(model, sentences)
