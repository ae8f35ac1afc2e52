from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_WNUT17 = ROOT.parent / "shared" / "data" / "wnut17"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

MLFLOW_MAJOR = int(importlib.metadata.version("mlflow").split(".")[0])
#: For tests of MLflow 3's logged models (their params, tags and search); MLflow 2
#: keeps a model as run artifacts only.
needs_logged_models = pytest.mark.skipif(
    MLFLOW_MAJOR < 3, reason="logged models exist from MLflow 3"
)


def _load_example_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def demo_data() -> tuple[list[list[str]], list[list[str]], list[list[str]], list[list[str]]]:
    corpus = _load_example_module("demo_corpus")
    return corpus.demo_corpus(n_train=240, n_dev=60, seed=7)


@pytest.fixture
def tracking_uri(tmp_path: Path) -> Any:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri() if "MLFLOW_TRACKING_URI" in os.environ else None
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(previous) if previous else mlflow.set_tracking_uri("")


def make_tiny_model(
    model_class: str = "BiLSTM_CRF_Model",
    embedding_size: int = 16,
    data: tuple[list[list[str]], list[list[str]]] | None = None,
) -> Any:
    """A small, fast-learning Kashgari model; built and compiled when ``data`` is given."""
    from kashgari.embeddings import BareEmbedding
    from kashgari.tasks import labeling

    cls = getattr(labeling, model_class)
    hyper = cls.default_hyper_parameters()
    for layer in hyper.values():
        if "units" in layer:
            layer["units"] = 16
    model = cls(embedding=BareEmbedding(embedding_size=embedding_size), hyper_parameters=hyper)
    if data is not None:
        import tensorflow as tf

        model.build_model(*data)
        model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=0.02))
    return model


def fit_tiny(data: Any, callbacks: Any = (), epochs: int = 2, model: Any = None) -> Any:
    """Fit a tiny model (a new one unless given) on ``(train_x, train_y, dev_x, dev_y)``."""
    train_x, train_y, dev_x, dev_y = data
    model = model or make_tiny_model(data=(train_x, train_y))
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=32, epochs=epochs,
        callbacks=list(callbacks), fit_kwargs={"verbose": 0},
    )  # fmt: skip
    return model


@pytest.fixture(scope="session")
def trained_model(demo_data: Any) -> Any:
    """A tiny BiLSTM-CRF trained on the demo corpus until it tags it well."""
    import numpy as np
    import tensorflow as tf

    np.random.seed(1)
    tf.random.set_seed(1)
    train_x, train_y, _, _ = demo_data
    model = make_tiny_model(data=(train_x, train_y))
    model.fit(train_x, train_y, batch_size=32, epochs=10, fit_kwargs={"verbose": 0})
    return model


@pytest.fixture(scope="session")
def saved_model_dir(trained_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kashgari_mlflow import save_model

    path = tmp_path_factory.mktemp("saved") / "model"
    save_model(trained_model, str(path))
    return path


#: What a serving machine lacks: none of them installs with pip next to TensorFlow 2.15
#: (Kashgari, bert4keras) or the pyfunc must not need them (gensim, tensorflow-addons).
UNINSTALLABLE = ("kashgari", "bert4keras", "gensim", "tensorflow_addons")


def block_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Kashgari & co. unimportable, and Keras config deserialization fail, in this process."""
    import tensorflow as tf

    for name in list(sys.modules):
        if name.split(".")[0] in UNINSTALLABLE:
            monkeypatch.setitem(sys.modules, name, None)
    for name in UNINSTALLABLE:
        monkeypatch.setitem(sys.modules, name, None)

    def no_keras_config(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the pyfunc rebuilt a Keras model from its config")

    monkeypatch.setattr(tf.keras.models, "model_from_json", no_keras_config)


def as_format_1(model_dir: Path) -> None:
    """Turn a saved model into what format 1 wrote: no ``serving/``, ``format_version: 1``."""
    import shutil

    import yaml

    shutil.rmtree(model_dir / "serving")
    mlmodel_path = model_dir / "MLmodel"
    mlmodel = yaml.safe_load(mlmodel_path.read_text())
    flavor = mlmodel["flavors"]["kashgari"]
    flavor["format_version"] = 1
    flavor.pop("serving", None)
    mlmodel_path.write_text(yaml.safe_dump(mlmodel))
