"""What the collaborators log per epoch and at the end, with fake Keras objects."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from kashgari_mlflow import TrackingWarning
from kashgari_mlflow._discovery import FitContext
from kashgari_mlflow._tracking._early_stopping import early_stopping_metrics, early_stopping_params
from kashgari_mlflow._tracking._epoch_metrics import batch_metrics, epoch_metrics
from kashgari_mlflow._tracking._model_logging import input_example, log_trained_model, weights_of
from kashgari_mlflow._tracking._queue import RunLogger
from kashgari_mlflow._tracking._runs import TrackedRun


def test_only_numeric_keras_logs_become_metrics() -> None:
    logs = {"loss": np.float32(0.5), "val_accuracy": 1, "note": "text", "arr": [1, 2]}
    assert epoch_metrics(logs) == {"loss": 0.5, "val_accuracy": 1.0}
    assert epoch_metrics(None) == {}
    assert batch_metrics({"loss": 0.25, "batch": 3, "size": 32}) == {"train_step/loss": 0.25}


def _stopper(stopped_epoch: int, best_epoch: int, restore: bool) -> Any:
    return SimpleNamespace(
        monitor="val_loss", patience=2, min_delta=-0.01, monitor_op=np.less,
        restore_best_weights=restore, baseline=None,
        stopped_epoch=stopped_epoch, best_epoch=best_epoch,
    )  # fmt: skip


def test_early_stopping_result_is_shifted_into_the_runs_steps() -> None:
    assert early_stopping_metrics(_stopper(4, 2, restore=True), offset=10) == {
        "stopped_epoch": 14,
        "restored_epoch": 12,
    }
    assert early_stopping_metrics(_stopper(4, 2, restore=False), offset=0) == {"stopped_epoch": 4}
    assert early_stopping_metrics(_stopper(0, 0, restore=True), offset=0) == {}
    assert early_stopping_metrics(None, offset=0) == {}


def test_early_stopping_settings_as_params() -> None:
    params = early_stopping_params(_stopper(0, 0, restore=True))
    assert params["early_stopping.mode"] == "min"
    assert params["early_stopping.min_delta"] == 0.01
    assert early_stopping_params(None) == {}


class _Network:
    def __init__(self) -> None:
        self.weights = ["current"]

    def get_weights(self) -> list[str]:
        return list(self.weights)

    def set_weights(self, weights: list[str]) -> None:
        self.weights = list(weights)


def test_best_weights_are_in_place_only_while_logging_even_if_it_fails() -> None:
    network = _Network()
    with pytest.raises(RuntimeError, match="upload"), weights_of(network, ["best"]):
        assert network.weights == ["best"]
        raise RuntimeError("upload")
    assert network.weights == ["current"]
    with weights_of(network, None):
        assert network.weights == ["current"]


def test_input_example_is_two_sentences_of_text() -> None:
    context = FitContext(kash_model=None, train_x=[["a", "b"], [], ["c"]], valid_x=None)
    assert input_example(context, "whitespace") == ["a b"]
    assert input_example(FitContext(kash_model=None, valid_x=[["北", "京"]]), "char") == ["北京"]
    assert input_example(FitContext(kash_model=None), "whitespace") is None


def test_a_model_that_cannot_be_logged_is_saved_locally_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import kashgari_mlflow.flavor as flavor

    def failing_log_model(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("artifact store unreachable")

    saved: list[str] = []
    monkeypatch.setattr(flavor, "log_model", failing_log_model)
    monkeypatch.setattr(flavor, "save_model", lambda model, path, **kw: saved.append(path))
    network = _Network()
    kwargs: dict[str, Any] = dict(
        tf_model=network, weights=["best"], step=1, model_name="model", registered_model_name=None,
        tokenizer="whitespace", scheme="default", example=None,
    )  # fmt: skip
    run = TrackedRun(RunLogger(object(), "run"), owned=False, final_flush_seconds=0)
    with pytest.warns(TrackingWarning, match=r"ConnectionError: artifact store unreachable\). It"):
        assert log_trained_model(run, object(), **kwargs) is None
    assert len(saved) == 1 and saved[0].endswith("model")
    assert network.weights == ["current"]

    strict = TrackedRun(RunLogger(object(), "run", strict=True), owned=False, final_flush_seconds=0)
    with pytest.raises(ConnectionError, match="unreachable"):
        log_trained_model(strict, object(), **kwargs)
    assert len(saved) == 1
