"""The README's main job, end to end, in a fresh working directory."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MLFLOW_MAJOR, ROOT, SHARED_WNUT17


def run_example(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_ner.py"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow  # trains in a subprocess
def test_main_job_trains_logs_loads_and_predicts(tmp_path: Path):
    import mlflow
    import yaml

    out = run_example(tmp_path, "--epochs", "4")
    run_id = re.search(r"Run id: (\w+)", out).group(1)
    assert "entities: John (PER)" in out
    assert (tmp_path / "mlflow.db").is_file()

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert len(run.data.params) >= 10
    assert any(key.startswith("hyper_parameters.") for key in run.data.params)
    for key in ("loss", "val_loss"):
        assert sorted(m.step for m in client.get_metric_history(run_id, key)) == [0, 1, 2, 3]
    if MLFLOW_MAJOR >= 3:
        (model,) = client.search_logged_models([run.info.experiment_id])
        assert model.name == "model"
    else:
        assert "model/MLmodel" in {a.path for a in client.list_artifacts(run_id, "model")}

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        folder = mlflow.artifacts.download_artifacts(
            f"runs:/{run_id}/model", dst_path=str(tmp_path / "dl")
        )
        flavors = yaml.safe_load((Path(folder) / "MLmodel").read_text())["flavors"]
        assert set(flavors) == {"kashgari", "python_function"}
        (answer,) = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(
            ["John lives in New York"]
        )
        assert len(answer["tags"]) == 5
    finally:
        mlflow.set_tracking_uri("")


@pytest.mark.slow  # trains in a subprocess
@pytest.mark.skipif(not SHARED_WNUT17.is_dir(), reason="../shared/data/wnut17 is not present")
def test_main_job_reads_conll_files(tmp_path: Path):
    out = run_example(
        tmp_path,
        "--train",
        str(SHARED_WNUT17 / "train.conll"),
        "--dev",
        str(SHARED_WNUT17 / "dev.conll"),
        "--epochs",
        "1",
        "--max-sentences",
        "300",
        "--model",
        "BiGRU_Model",
    )
    assert re.search(r"train\.conll: 300 sentences, validating on .*dev\.conll: 1009", out)
    assert "Run id:" in out


def test_bad_arguments_get_a_usage_error(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_ner.py"), "--train", "missing.conll"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "--train missing.conll: no such file" in result.stderr


@pytest.mark.slow
def test_main_job_on_a_peoples_daily_file_finds_entities_in_a_raw_sentence(tmp_path: Path):
    from .conftest import _load_example_module

    corpus = _load_example_module("chinese_corpus")
    train_x, train_y, dev_x, dev_y = corpus.chinese_corpus()
    corpus.write_peoples_daily(str(tmp_path / "example.train"), train_x, train_y)
    corpus.write_peoples_daily(str(tmp_path / "example.dev"), dev_x, dev_y)
    sentence = "张伟昨天从上海到了北京。"
    result = subprocess.run(
        [
            sys.executable, str(ROOT / "examples" / "train_ner.py"),
            "--train", "example.train", "--dev", "example.dev", "--epochs", "4",
            "--predict", sentence,
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "tokenizer='auto' chose 'char' from the training tokens" in out
    # Not a terminal: one line per epoch with the loss and the validation entity F1.
    assert re.search(r"^epoch 4/4  loss [\d.]+  val_loss [\d.]+  val_entity_f1 [\d.]+", out, re.M)
    assert "Run id: " in out and "mlflow ui --backend-store-uri sqlite:///" in out
    entities = out.split(f"{sentence}\n  entities: ", 1)[1].splitlines()[0]
    assert "张伟 (PER)" in entities and "上海 (LOC)" in entities, entities
    # Readable: no TensorFlow, Kashgari or tqdm chatter.
    for noise in ("tensorflow", "[DEBUG]", "Preparing text vocab", "oneDNN"):
        assert noise not in out + result.stderr
