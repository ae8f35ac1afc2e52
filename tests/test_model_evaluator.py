"""The ``kashgari-ner`` evaluator of ``mlflow.models.evaluate``, and its command line."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._cli import main as cli_main
from kashgari_mlflow._error_analysis import analysis_metrics
from kashgari_mlflow._evaluation import report_metrics, score_entities
from kashgari_mlflow._evaluation_inputs import (
    EvaluationInputError,
    read_evaluation_data,
    tags_from_answers,
)

from .conftest import ROOT, fit_tiny, make_tiny_model
from .test_error_analysis import GOLD, PRED

TOKENS = [[f"w{i}_{j}" for j in range(len(tags))] for i, tags in enumerate(GOLD)]


def _write_conll(path: Path, x: list[list[str]], y: list[list[str]]) -> Path:
    blocks = [
        "\n".join(f"{t}\t{g}" for t, g in zip(s, tags, strict=True))
        for s, tags in zip(x, y, strict=True)
    ]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


# -- inputs, with no model ---------------------------------------------------------------


def test_data_is_read_from_a_conll_file_a_pair_or_a_frame(tmp_path):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD})
    conll = _write_conll(tmp_path / "dev.conll", TOKENS, GOLD)
    expected = (TOKENS, GOLD)
    assert read_evaluation_data(conll) == expected
    assert read_evaluation_data(str(conll)) == expected
    assert read_evaluation_data((TOKENS, GOLD)) == expected
    assert read_evaluation_data(frame) == expected
    arrays = pd.DataFrame({"tokens": [np.array(s) for s in TOKENS], "tags": GOLD})
    assert read_evaluation_data(arrays) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pd.DataFrame({"text": ["a b"], "tags": [["O", "O"]]}), "no 'tokens' column"),
        ((["a b"], [["O", "O"]]), "Row 0 of the tokens is str 'a b', not a list of strings"),
        (([["a", 1]], [["O", "O"]]), "Row 0 of the tokens holds int 1"),
        (([["a"], ["b"]], [["O"]]), "2 sentences but 1 rows of gold tags"),
        (([["a", "b"]], [["O"]]), "Sentence 0 has 2 tokens but 1 gold tags"),
        ({"tokens": []}, "must be a CoNLL file path, a pair"),
    ],
)
def test_bad_data_says_what_is_wrong(data, message):
    with pytest.raises(EvaluationInputError, match=message):
        read_evaluation_data(data)


def test_answers_give_tags_in_every_form_and_must_line_up():
    x = [["John", "lives"], ["Paris"]]
    tags = [["B-PER", "O"], ["B-LOC"]]
    assert tags_from_answers([{"text": "", "tags": t} for t in tags], x) == tags
    assert tags_from_answers(tags, x) == tags
    assert tags_from_answers(pd.DataFrame({"tags": tags}), x) == tags
    with pytest.raises(EvaluationInputError, match="Answer 0 of the model has no 'tags'"):
        tags_from_answers([{"entities": []}, {"entities": []}], x)
    with pytest.raises(EvaluationInputError, match="Sentence 1 has 1 tokens but 2 predicted tags"):
        tags_from_answers([["O", "O"], ["O", "O"]], x)
    with pytest.raises(EvaluationInputError, match="2 sentences but 1 rows of predicted tags"):
        tags_from_answers([["O", "O"]], x)


# -- the evaluator on stored predictions (no model) --------------------------------------


def _evaluate_predictions(frame: pd.DataFrame, **config: Any) -> Any:
    """Evaluate stored predictions in a run of their own; the result and that run's id."""
    with mlflow.start_run() as run:
        result = mlflow.models.evaluate(
            data=frame, targets="tags", predictions="predicted", model_type="ner",
            evaluators="kashgari-ner", evaluator_config=config,
        )  # fmt: skip
    result.evaluated_run_id = run.info.run_id  # MLflow 2's result keeps it private
    return result


def test_stored_predictions_get_the_callbacks_scores_and_artifacts(tracking_uri):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD, "predicted": PRED})
    result = _evaluate_predictions(frame)

    report, analysis = score_entities(TOKENS, GOLD, PRED, scheme="default")
    expected = {**report_metrics(report, "val_entity"), **analysis_metrics(analysis, "val")}
    assert result.metrics == pytest.approx(expected)
    assert result.metrics["val_strict_correct"] == 1 and result.metrics["val_strict_missed"] == 1
    run = mlflow.MlflowClient().get_run(result.evaluated_run_id)
    assert run.data.metrics == pytest.approx(expected)

    client = mlflow.MlflowClient()
    listed = {a.path for folder in ("entity_report", "error_analysis", "plots")
              for a in client.list_artifacts(result.evaluated_run_id, folder)}  # fmt: skip
    assert listed == {
        "entity_report/report.txt", "entity_report/report.json",
        "error_analysis/type_confusion.json", "error_analysis/error_sentences.json",
        "error_analysis/errors.html", "plots/entity_type_confusion.png",
        "plots/entity_f1_by_type.png",
    }  # fmt: skip
    assert set(result.artifacts) >= {"type_confusion", "error_sentences", "errors"}
    confusion = result.artifacts["type_confusion"].content
    assert confusion["labels"][-1] == "(none)"
    table = json.loads(Path(mlflow.artifacts.download_artifacts(
        run_id=result.evaluated_run_id, artifact_path="error_analysis/error_sentences.json"
    )).read_text())  # fmt: skip
    assert "epoch" not in table["columns"]


def test_seen_forms_prefix_and_scheme_come_from_the_config(tracking_uri):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD, "predicted": PRED})
    train = (TOKENS[:1], GOLD[:1])  # its PER and LOC are "seen"
    result = _evaluate_predictions(frame, train_data=train, metric_prefix="test_", scheme="IOB2")
    _, analysis = score_entities(TOKENS, GOLD, PRED, scheme="IOB2", seen_forms=frozenset(
        {"w0_0 w0_1", "w0_3"}))  # fmt: skip
    expected = analysis_metrics(analysis, "val")
    for name in ("val_seen_entity_f1", "val_unseen_entity_f1"):
        assert result.metrics[f"test_{name}"] == pytest.approx(expected[name])
    assert not [name for name in result.metrics if not name.startswith("test_")]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"schema": "IOB2"}, r"Unknown evaluator_config keys \['schema'\]"),
        ({"scheme": "BIO"}, "Unknown scheme 'BIO'"),
        ({"batch_size": 0}, "batch_size must be an integer from 1 to 4096"),
        ({"metric_prefix": ".."}, "metric_prefix '..' cannot start MLflow metric names"),
        ({"metric_prefix": "x" * 101}, "cannot start MLflow metric names"),
        ({"train_data": "missing.conll"}, "train_data: no such file: missing.conll"),
        ({"train_data": (TOKENS, None)}, "train_data: The gold tags are NoneType"),
    ],
)
def test_bad_config_is_refused_with_what_was_wrong(tracking_uri, config, message):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD, "predicted": PRED})
    with pytest.raises(MlflowException, match=message):
        _evaluate_predictions(frame, **config)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "The model answered NoneType None; it must answer one entry per sentence"),
        (5, "The model answered int 5"),
        ("tags", "The model answered str 'tags'"),
        ([{"tags": ["O"]}] + [["O"]] * 5, "Answer 1 of the model has no 'tags'"),
    ],
)
def test_a_model_answering_no_tags_is_refused(tracking_uri, answer, message):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD})
    with pytest.raises(MlflowException, match=message):
        mlflow.models.evaluate(
            lambda features: answer, frame, targets="tags", model_type="ner",
            evaluators="kashgari-ner",
        )  # fmt: skip


def test_no_sentence_is_no_evaluation(tracking_uri):
    frame = pd.DataFrame({"tokens": [], "tags": [], "predicted": []})
    with pytest.raises(MlflowException, match="holds no sentence"):
        _evaluate_predictions(frame)


def test_secrets_are_masked_in_every_file_and_metric_name(tracking_uri, monkeypatch, tmp_path):
    # Secrets with characters HTML escapes: the page must not show them raw or escaped.
    token_secret, label_secret = "s3cr&t<tok>en", "hunter2'label"
    monkeypatch.setenv("MY_API_TOKEN", token_secret)
    monkeypatch.setenv("LABEL_PASSWORD", label_secret)
    tokens = [["my", token_secret, "is", "here"], ["x"]]
    gold = [["O", "B-PER", "O", "O"], [f"B-{label_secret}"]]
    predicted = [["O", "O", "O", "B-LOC"], ["O"]]
    frame = pd.DataFrame({"tokens": tokens, "tags": gold, "predicted": predicted})
    with pytest.warns(UserWarning, match="Redacted artifact error_analysis .* MY_API_TOKEN"):
        result = _evaluate_predictions(frame)
    run_id = result.evaluated_run_id
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path)))
    texts = [path.read_text(encoding="utf-8") for path in folder.rglob("*") if path.suffix in
             (".html", ".json", ".txt")]  # fmt: skip
    assert len(texts) >= 5
    forms = {token_secret, label_secret, html.escape(token_secret), html.escape(label_secret),
             html.escape(label_secret, quote=False), "hunter2"}  # fmt: skip
    leaks = [form for form in forms for text in texts if form in text]
    assert leaks == []
    names = list(result.metrics) + list(mlflow.MlflowClient().get_run(run_id).data.metrics)
    assert not [name for name in names if "hunter2" in name]


def test_misaligned_predictions_are_refused_before_scoring(tracking_uri):
    frame = pd.DataFrame({"tokens": TOKENS, "tags": GOLD, "predicted": [p[:-1] for p in PRED]})
    with pytest.raises(MlflowException, match="Sentence 0 has 4 tokens but 3 predicted tags"):
        _evaluate_predictions(frame)


# -- a model trained with the callback ---------------------------------------------------


@pytest.fixture(scope="module")
def tracked_fit(demo_data, tmp_path_factory, empty_store_template):
    """A tiny model fitted with the callback, which logs the last epoch's model."""
    import tensorflow as tf

    from .conftest import _tracking_to, store_copy

    train_x, train_y, dev_x, dev_y = demo_data
    data = (train_x, train_y, dev_x, dev_y)
    uri = store_copy(empty_store_template, tmp_path_factory.mktemp("evaluated"))
    model = make_tiny_model(data=(train_x, train_y))
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=0.05))  # learns in 2
    with _tracking_to(uri):
        callback = MlflowCallback(log_model="last")
        fit_tiny(data, [callback], epochs=2, model=model)
    return uri, callback.active_run_id, data


def test_evaluating_the_logged_model_gives_the_callbacks_last_epoch(tracked_fit, tmp_path):
    uri, run_id, (train_x, train_y, dev_x, dev_y) = tracked_fit
    from .conftest import _tracking_to

    with _tracking_to(uri):
        client = mlflow.MlflowClient()
        result = mlflow.models.evaluate(
            f"runs:/{run_id}/model", pd.DataFrame({"tokens": dev_x, "tags": dev_y}),
            targets="tags", model_type="ner", evaluators="kashgari-ner",
            evaluator_config={"train_data": (train_x, train_y)},
        )  # fmt: skip
        last = {name: client.get_metric_history(run_id, name)[-1] for name in result.metrics}
    assert len(result.metrics) > 60
    assert {metric.step for metric in last.values()} == {1}
    assert result.metrics == pytest.approx({name: m.value for name, m in last.items()})
    assert result.metrics["val_entity_f1"] > 0.1  # it scored entities, not an empty model

    # Tokens a raw request may not hold (tagged whitespace, as in People's Daily files)
    # are scored as in training.
    odd = pd.DataFrame({"tokens": [["John", "\u3000", "Paris"]], "tags": [["B-PER", "O", "B-LOC"]]})
    with _tracking_to(uri):
        scored = mlflow.models.evaluate(
            f"runs:/{run_id}/model", odd, targets="tags", model_type="ner",
            evaluators="kashgari-ner",
        )  # fmt: skip
    outcomes = ("correct", "incorrect", "partial", "missed")
    assert sum(scored.metrics[f"val_strict_{o}"] for o in outcomes) == 2  # both gold entities


def test_the_command_line_logs_an_evaluation_run(tracked_fit, tmp_path, capsys):
    uri, run_id, (_, _, dev_x, dev_y) = tracked_fit
    conll = _write_conll(tmp_path / "dev.conll", dev_x, dev_y)
    from .conftest import _tracking_to

    with _tracking_to(uri):
        status = cli_main(["evaluate", f"runs:/{run_id}/model", str(conll),
                           "--run-name", "dev-eval", "--json"])  # fmt: skip
        output = json.loads(capsys.readouterr().out)
        run = mlflow.MlflowClient().get_run(output["run_id"])
        f1 = mlflow.MlflowClient().get_metric_history(run_id, "val_entity_f1")[-1].value
    assert status == 0
    assert run.info.run_name == "dev-eval" and run.info.status == "FINISHED"
    assert output["metrics"]["val_entity_f1"] == pytest.approx(f1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.conll"], "error: no such file: missing.conll"),
        (["bad.conll"], "bad.conll:1: expected 'token<TAB>tag'"),
        (["dev.conll", "--batch-size", "0"], "error: --batch-size must be at least 1"),
        (["dev.conll"], "0123456789abcdef"),  # no such run: the model does not load
        (["dev.conll", "--train-data", "nope.conll"], "error: train_data: [Errno 2]"),
        (["dev.conll", "--metric-prefix", "test:"], "metric_prefix 'test:' cannot start"),
        (["dev.conll", "--batch-size", "5000"], "batch_size must be an integer from 1 to 4096"),
        (["."], "error: . is a folder; pass a CoNLL file."),
        (["latin1.conll"], "latin1.conll is not UTF-8 text"),
    ],
)
def test_the_command_line_says_what_was_wrong(tracking_uri, tmp_path, capsys, arguments, message,
                                              monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.conll").write_text("lonely\n", encoding="utf-8")
    (tmp_path / "latin1.conll").write_bytes("Zoë\tB-PER\n".encode("latin-1"))
    _write_conll(tmp_path / "dev.conll", TOKENS, GOLD)
    status = cli_main(["evaluate", "runs:/0123456789abcdef/model", *arguments])
    error = capsys.readouterr().err
    assert status == 2
    assert message in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    assert mlflow.search_runs(search_all_experiments=True).empty  # no failed run left behind


def test_python_dash_m_runs_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "kashgari_mlflow", "evaluate", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MODEL_URI" in done.stdout.upper() and "--train-data" in done.stdout
