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


@pytest.mark.parametrize("model_class", ["BiLSTM_Model", "CNN_Model"])
def test_classification_model_is_tracked(model_class, demo_data, tracking_uri):
    from kashgari.tasks import classification

    train_x, train_y, dev_x, dev_y = demo_data

    # Classify whether a sentence mentions an organisation.
    def labels(tags):
        return ["org" if any(t.endswith("ORG") for t in seq) else "other" for seq in tags]

    model = getattr(classification, model_class)()
    callback = MlflowCallback()
    with pytest.warns(UserWarning, match="saves labeling models only"):
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
