from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
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


#: True while a test marked ``graph_mode`` runs.
_in_graph_mode_test = False


def run_functions_eagerly(enabled: bool) -> None:
    """Switch ``tf.function`` (Keras' train, test and predict steps) to eager or graph mode."""
    import tensorflow as tf

    tf.config.run_functions_eagerly(enabled)


@contextlib.contextmanager
def functions_run_eagerly(enabled: bool) -> Iterator[None]:
    """Within the block ``tf.function`` runs eagerly (or in graph mode); restored afterwards."""
    import tensorflow as tf

    was_eager = tf.config.functions_run_eagerly()
    run_functions_eagerly(enabled)
    try:
        yield
    finally:
        run_functions_eagerly(was_eager)


#: The test files that take longest in each tier, longest first (20-65 s each in
#: the default tier with two workers, 60-290 s in the slow tier with three).
#: ``--dist loadfile`` hands files to the workers in collection order as they
#: free up (``--no-loadscope-reorder`` in pyproject.toml keeps xdist from
#: ordering them by their number of tests instead); a long file handed out last
#: keeps one worker busy while the others idle, so these are collected first.
LONGEST_FILES = {
    "default": (
        "test_callback.py",
        "test_untrusted_models.py",
        "test_all_labeling_models.py",
        "test_run_lifecycle.py",
        "test_run_status.py",
        "test_callback_extras.py",
        "test_checkpoints.py",
        "test_model_evaluator.py",
        "test_interrupted_logging.py",
        "test_hostile_input.py",
        "test_classification.py",
        "test_distributed.py",
    ),
    "slow": (
        "test_pip_install.py",
        "test_all_labeling_models.py",
        "test_examples_ci.py",
        "test_outage_soak.py",
        "test_postgres_server.py",
        "test_chinese.py",
        "test_example.py",
        "test_preemption.py",
        "test_pyfunc_features.py",
        "test_run_lifecycle.py",
        "test_mlproject.py",
        "test_spark_udf.py",
    ),
}


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected tests
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect the tier's :data:`LONGEST_FILES` first; the other files keep their order."""
    names = {name for tier in LONGEST_FILES.values() for name in tier}
    missing = sorted(name for name in names if not (ROOT / "tests" / name).is_file())
    if missing:
        raise pytest.UsageError(f"LONGEST_FILES names files that do not exist: {missing}")
    slow = bool(items) and all(item.get_closest_marker("slow") for item in items)
    rank = {name: index for index, name in enumerate(LONGEST_FILES["slow" if slow else "default"])}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True)
def _graph_mode_when_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests marked ``graph_mode`` train and predict in graph mode, as users do.

    The tiny models of the other tests fit eagerly (see ``make_tiny_model``).
    """
    if request.node.get_closest_marker("graph_mode") is None:
        yield
        return
    global _in_graph_mode_test
    with functions_run_eagerly(False):
        _in_graph_mode_test = True
        try:
            yield
        finally:
            _in_graph_mode_test = False


@pytest.fixture(autouse=True)
def _no_run_left_watched() -> Iterator[None]:
    """Forget runs a test left open (fakes included), so their hooks do not leak into the next.

    In a real process a run whose training never ended stays watched until the
    process exits; in the test process it would keep sys.excepthook and the signal
    handlers of later tests, and a later abort would reach its fake client.
    """
    yield
    guard = sys.modules.get("kashgari_mlflow._tracking._run_guard")
    if guard is not None:
        for run in list(guard._watched.values()):
            guard.forget(run)


@pytest.fixture(autouse=True)
def _tracking_uri_restored() -> Iterator[None]:
    """Give the next test the tracking URI this one started with.

    ``mlflow.set_tracking_uri`` also sets ``MLFLOW_TRACKING_URI`` for child
    processes, and a fixture that restores ``mlflow.get_tracking_uri()`` leaves it
    set to the resolved default (an absolute path in the tests' directory): a later
    test's script that logs to "the default store" would log there instead.
    """
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if os.environ.get("MLFLOW_TRACKING_URI") != before:
        mlflow = sys.modules.get("mlflow")
        if mlflow is not None:
            mlflow.set_tracking_uri(before)  # None unsets the variable too
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        if before is not None:
            os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(scope="session")
def demo_data() -> tuple[list[list[str]], list[list[str]], list[list[str]], list[list[str]]]:
    corpus = _load_example_module("demo_corpus")
    return corpus.demo_corpus(n_train=240, n_dev=60, seed=7)


@pytest.fixture(scope="session")
def empty_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite tracking store, migrated once to the installed MLflow's schema.

    MLflow runs every schema migration on a new ``sqlite:///`` file: about 3 s of CPU
    and 8-16 s of wall time per store on the loaded 2-core machine (MLflow 3.17); a
    copy opens in 0.2 s. It is built per session, so it matches the installed MLflow
    (2.22's schema differs from 3.x's), and from the tests' working directory, like
    the per-test files it replaces (the default experiment records ``./mlruns``
    resolved there).
    """
    import mlflow

    path = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()  # creates and migrates
    return path


@contextlib.contextmanager
def _tracking_to(uri: str) -> Iterator[str]:
    """Point MLflow at ``uri``; afterwards end any run left open and restore the URI."""
    import mlflow

    previous = mlflow.get_tracking_uri() if "MLFLOW_TRACKING_URI" in os.environ else None
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous) if previous else mlflow.set_tracking_uri("")


def store_copy(template: Path, folder: Path) -> str:
    """A ``sqlite:///`` URI of a fresh copy of ``template`` in ``folder``."""
    path = folder / "mlflow.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def tracking_uri(tmp_path: Path, empty_store_template: Path) -> Iterator[str]:
    """An empty SQLite tracking store of the test's own, set as MLflow's tracking URI."""
    with _tracking_to(store_copy(empty_store_template, tmp_path)) as uri:
        yield uri


def make_tiny_model(
    model_class: str = "BiLSTM_CRF_Model",
    embedding_size: int = 16,
    data: tuple[list[list[str]], list[list[str]]] | None = None,
    *,
    keras_default_rnn: bool = False,
) -> Any:
    """A small, fast-learning Kashgari model; built and compiled when ``data`` is given.

    From here on the process runs ``tf.function`` eagerly, unless the test is marked
    ``graph_mode``: on a few batches of a tiny model, tracing and optimising the
    graphs takes several times longer than the steps (a two-epoch fit: 13 s in graph
    mode, 5 s eagerly). The callback works at the level of Keras' callbacks, the same
    in both modes; the tests marked ``graph_mode`` cover the path users run.

    Unless the test is marked ``graph_mode`` or ``keras_default_rnn`` is set,
    the LSTM/GRU layers use ``recurrent_activation="hard_sigmoid"``: with Keras'
    default (sigmoid) every such layer traces its cuDNN/CPU backend-selection
    functions and their gradients when the model is built, about 1 s per model
    that eager steps never call. The session's ``trained_model``, every model
    class in ``test_all_labeling_models`` and the ``graph_mode`` tests keep the
    default.
    """
    import tensorflow as tf
    from kashgari.embeddings import BareEmbedding
    from kashgari.tasks import labeling

    if not tf.config.functions_run_eagerly() and not _in_graph_mode_test:
        run_functions_eagerly(True)

    cls = getattr(labeling, model_class)
    hyper = cls.default_hyper_parameters()
    for layer in hyper.values():
        if "units" in layer:
            layer["units"] = 16
        if "return_sequences" in layer and not (keras_default_rnn or _in_graph_mode_test):
            layer["recurrent_activation"] = "hard_sigmoid"
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
    train_x, train_y, dev_x, dev_y = demo_data
    model = make_tiny_model(data=(train_x, train_y), keras_default_rnn=True)
    probes_x = dev_x + [tokens for tokens, _ in TAGGING_PROBES]
    probes_y = dev_y + [tags for _, tags in TAGGING_PROBES]
    # Ten epochs and more: graph mode pays its tracing back (eagerly: twice as long).
    with functions_run_eagerly(False):
        for epochs in (10, 5, 5, 5, 5):
            model.fit(train_x, train_y, batch_size=32, epochs=epochs, fit_kwargs={"verbose": 0})
            if kashgari_tags(model, probes_x) == probes_y:
                return model
    pytest.fail("the session's tiny model did not learn to tag the demo corpus in 30 epochs")


#: Sentences outside the demo corpus (no final full stop) that tests ask the session's
#: model about, with the tags it must give them.
TAGGING_PROBES = [
    (["John", "lives", "in", "New", "York"], ["B-PER", "O", "O", "B-LOC", "I-LOC"]),
    (
        ["Yesterday", "Angela", "Merkel", "flew", "from", "Berlin", "to", "Tokyo", "."],
        ["O", "B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-LOC", "O"],
    ),
]


def kashgari_tags(model: Any, sentences: list[list[str]]) -> list[list[str]]:
    """Kashgari's own tags, with its internal labels ([PAD], [BOS]...) read as O like ours."""
    from kashgari_mlflow._entities import is_internal_label

    return [["O" if is_internal_label(t) else t for t in tags] for tags in model.predict(sentences)]


@pytest.fixture(scope="session")
def saved_model_dir(trained_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kashgari_mlflow import save_model

    path = tmp_path_factory.mktemp("saved") / "model"
    save_model(trained_model, str(path))
    return path


@pytest.fixture(scope="session")
def saved_pyfunc(saved_model_dir: Path) -> Any:
    """The pyfunc of ``saved_model_dir``, loaded once for the tests that only predict.

    Each load reads the SavedModel and runs its first predict (seconds).
    """
    import mlflow

    return mlflow.pyfunc.load_model(str(saved_model_dir))


@dataclasses.dataclass(frozen=True)
class LoggedModel:
    """``trained_model`` logged by ``log_model`` in a run of a store of its own."""

    tracking_uri: str
    run_id: str
    info: Any  # mlflow.models.model.ModelInfo


@pytest.fixture(scope="session")
def _logged_model_once(
    trained_model: Any, empty_store_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> LoggedModel:
    import mlflow

    from kashgari_mlflow import log_model

    uri = store_copy(empty_store_template, tmp_path_factory.mktemp("logged"))
    with _tracking_to(uri), mlflow.start_run() as run:
        info = log_model(trained_model, "model")
    return LoggedModel(uri, run.info.run_id, info)


@pytest.fixture
def logged_model(_logged_model_once: LoggedModel) -> Iterator[LoggedModel]:
    """The session's logged model, with MLflow pointed at its store during the test.

    Shared by every test that asks for it: read it, never log to its store (a test
    that writes takes ``tracking_uri``; the two fixtures do not combine).
    """
    with _tracking_to(_logged_model_once.tracking_uri):
        yield _logged_model_once


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
