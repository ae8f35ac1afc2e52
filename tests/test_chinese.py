"""Chinese NER with every default: trained, logged by ``MlflowCallback()``, asked raw sentences."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml

from .conftest import _load_example_module, make_tiny_model

# The shared training (12 epochs, tracked, logged, downloaded) takes far more than the
# default tier's few seconds per test: 226 s measured on a loaded 2-core machine.
pytestmark = pytest.mark.slow

# Sentences the corpus generator can make; the names are from its lists.
RAW = ["张伟在北京工作。", "新华社记者王芳报道。", "李鹏昨天从上海到了日本。"]
EXPECTED = {("PER", "张伟"), ("LOC", "北京"), ("PER", "王芳"), ("PER", "李鹏"), ("LOC", "上海")}


@pytest.fixture(scope="module")
def chinese_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """One training on a generated People's Daily-style corpus, logged by ``MlflowCallback()``."""
    import numpy as np
    import tensorflow as tf

    from kashgari_mlflow import MlflowCallback

    corpus = _load_example_module("chinese_corpus")
    train_x, train_y, dev_x, dev_y = corpus.chinese_corpus(n_train=240, n_dev=40, seed=5)
    folder = tmp_path_factory.mktemp("chinese")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    patch = pytest.MonkeyPatch()
    try:
        # Artifacts in the temporary folder, not ./mlruns; the callback itself is all
        # defaults. The experiment is chosen the way a job would (MLFLOW_EXPERIMENT_ID),
        # and unset afterwards: mlflow.set_experiment would stay active for later tests.
        experiment = mlflow.create_experiment("zh", artifact_location=str(folder / "art"))
        patch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
        np.random.seed(2)
        tf.random.set_seed(2)
        model = make_tiny_model(data=(train_x, train_y))
        callback = MlflowCallback()
        model.fit(
            train_x, train_y, dev_x, dev_y, batch_size=32, epochs=12,
            callbacks=[callback], fit_kwargs={"verbose": 0},
        )  # fmt: skip
        model_dir = Path(
            mlflow.artifacts.download_artifacts(
                f"runs:/{callback.active_run_id}/model", dst_path=str(folder / "model")
            )
        )
        yield str(callback.active_run_id), model_dir, store
    finally:
        patch.undo()
        mlflow.set_tracking_uri("")


@pytest.fixture(scope="module")
def chinese_pyfunc(chinese_run: tuple[str, Path, str]) -> Any:
    return mlflow.pyfunc.load_model(str(chinese_run[1]))


def _check_entities(text: str, answer: dict[str, Any]) -> set[tuple[str, str]]:
    assert answer["text"] == text
    assert answer["tokens"] == list(text)
    for entity in answer["entities"]:
        assert " " not in entity["text"]
        assert text[entity["char_start"] : entity["char_end"]] == entity["text"]
    return {(entity["type"], entity["text"]) for entity in answer["entities"]}


def test_defaults_choose_the_character_tokenizer_and_record_it(chinese_run):
    run_id, model_dir, store = chinese_run
    conf = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["kashgari"]
    assert conf["tokenizer"] == "char"
    client = mlflow.MlflowClient(store)
    assert client.get_run(run_id).data.params["tokenizer"] == "char"
    history = client.get_metric_history(run_id, "val_sentence_accuracy")
    assert sorted(metric.step for metric in history) == list(range(12))
    assert all(0.0 <= metric.value <= 1.0 for metric in history)
    # The input example saved with the model is the sentences as written, no spaces.
    example = json.loads((model_dir / "input_example.json").read_text())
    assert example[0] == "".join(example[0].split()) and len(example[0]) > 5


def test_raw_chinese_sentences_give_entities_with_exact_offsets(chinese_pyfunc):
    pyfunc = chinese_pyfunc
    found: set[tuple[str, str]] = set()
    for text, answer in zip(RAW, pyfunc.predict(RAW), strict=True):
        found |= _check_entities(text, answer)
    # A small model trained for seconds may miss one entity or add a stray one.
    assert len(EXPECTED & found) >= 4, found


def test_character_token_lists_read_as_the_natural_sentence(chinese_pyfunc):
    (answer,) = chinese_pyfunc.predict([list(RAW[0])])
    assert answer["text"] == RAW[0]
    _check_entities(RAW[0], answer)


def test_served_model_answers_raw_chinese_sentences_over_rest(chinese_run, tmp_path):
    from tests._model_server import ModelServer

    _, model_dir, _ = chinese_run
    server = ModelServer(str(model_dir), tmp_path / "serve.log")
    server.start(timeout=600)  # 180 s was not enough to load TensorFlow on a busy machine
    try:
        status, body = server.post({"inputs": RAW})
    finally:
        server.stop()
    assert status == 200, body
    answers = body["predictions"] if isinstance(body, dict) else body
    found: set[tuple[str, str]] = set()
    for text, answer in zip(RAW, answers, strict=True):
        found |= _check_entities(text, answer)
    assert len(EXPECTED & found) >= 4, found
