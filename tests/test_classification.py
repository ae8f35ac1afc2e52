"""Kashgari classification models are tracked with per-class scores instead of entity scores."""

import mlflow
import pytest

from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._metrics import label_report


def test_label_report_single_and_multi_label():
    report = label_report(["a", "b", "b", "a"], ["a", "b", "a", "a"])
    assert report.micro.f1 == pytest.approx(0.75)
    assert report.per_type["b"].recall == pytest.approx(0.5)
    multi = label_report([["a", "b"], ["b"]], [["a"], ["b", "c"]])
    assert multi.micro.precision == pytest.approx(2 / 3)
    assert multi.micro.recall == pytest.approx(2 / 3)


# One classification model in the default tier; the tracking code is the same for both.
@pytest.mark.parametrize(
    "model_class", ["BiLSTM_Model", pytest.param("CNN_Model", marks=pytest.mark.slow)]
)
def test_classification_model_is_tracked(model_class, demo_data, tracking_uri):
    from kashgari.tasks import classification

    train_x, train_y, dev_x, dev_y = demo_data

    # Classify whether a sentence mentions an organisation.
    def labels(tags):
        return ["org" if any(t.endswith("ORG") for t in seq) else "other" for seq in tags]

    model = getattr(classification, model_class)()
    callback = MlflowCallback(log_model="last")  # the weights `model` keeps
    model.fit(
        train_x[:96], labels(train_y[:96]), dev_x[:32], labels(dev_y[:32]),
        batch_size=32, epochs=2, callbacks=[callback], fit_kwargs={"verbose": 0},
    )  # fmt: skip
    client = mlflow.MlflowClient()
    run = client.get_run(callback.active_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.class"] == model_class
    assert run.data.tags["kashgari_mlflow.task"] == "classification"
    for key in ("val_class_f1", "val_class_macro_f1", "val_class_f1/org", "val_class_f1/other"):
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, key)) == [0, 1]
    assert "val_entity_f1" not in run.data.metrics
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "class_report")}
    assert paths == {"class_report/report.txt", "class_report/report.json"}

    # The logged model answers a label and probabilities, like Kashgari's predict.
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    sentences = dev_x[:32]
    answers = pyfunc.predict(sentences)
    expected = [str(label) for label in model.predict(sentences, batch_size=32)]
    assert [answer["label"] for answer in answers] == expected
    for answer in answers:
        assert set(answer["probabilities"]) == {"org", "other"}
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
    # A string is read as its whitespace tokens: the same answer as that token list
    # alone. (Not necessarily as within the 32: every sentence is padded to the
    # longest of its input, as in Kashgari's predict, and CNN_Model scores padding.)
    (text_answer,) = pyfunc.predict(" ".join(sentences[0]), params={"batch_size": 1})
    (token_answer,) = pyfunc.predict([sentences[0]], params={"batch_size": 1})
    assert text_answer["label"] == token_answer["label"]
    assert text_answer["probabilities"] == token_answer["probabilities"]


def test_multi_label_model_answers_labels_over_the_threshold(demo_data, tmp_path):
    import numpy as np
    import tensorflow as tf
    from kashgari.tasks.classification import BiLSTM_Model

    import kashgari_mlflow

    train_x, train_y, dev_x, _ = demo_data

    def label_sets(tags):
        return [sorted({t[2:] for t in seq if t != "O"}) or ["none"] for seq in tags]

    np.random.seed(2)
    tf.random.set_seed(2)
    model = BiLSTM_Model(multi_label=True)
    model.fit(train_x, label_sets(train_y), batch_size=32, epochs=3, fit_kwargs={"verbose": 0})
    kashgari_mlflow.save_model(model, str(tmp_path / "model"))
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))

    sentences = dev_x[:20]
    answers = pyfunc.predict(sentences, params={"threshold": 0.5})
    expected = model.predict(sentences, batch_size=32, multi_label_threshold=0.5)
    assert [sorted(a["labels"]) for a in answers] == [sorted(labels) for labels in expected]
    everything = pyfunc.predict(sentences, params={"threshold": 0.0})
    assert all(len(a["labels"]) == len(a["probabilities"]) for a in everything)
    with pytest.raises(mlflow.exceptions.MlflowException, match="threshold must be"):
        pyfunc.predict(sentences, params={"threshold": 2.0})
