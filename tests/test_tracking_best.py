"""Best-epoch choice: direction by ``mode`` (or the metric's name), ties, a missing metric."""

from __future__ import annotations

from typing import Any

import pytest

from kashgari_mlflow._tracking._best import BestEpoch, default_monitor, higher_is_better


def run_epochs(best: BestEpoch, values: list[float | None]) -> list[int]:
    """Feed one value per epoch (None: the metric is missing); return the weights read."""
    read: list[int] = []
    for step, value in enumerate(values):
        metrics = {} if value is None else {best.monitor: value}
        best.update(step, metrics, lambda step=step: read.append(step) or [step])
    return read


@pytest.mark.parametrize(
    "name",
    [
        "val_entity_f1",
        "val_class_f1",
        "val_accuracy",
        "val_auc",
        "val_precision",
        "val_recall",
        "val_entity_f1/PER",
        "accuracy",
    ],
)
def test_auto_mode_maximises_scores(name: str) -> None:
    assert higher_is_better(name)


@pytest.mark.parametrize("name", ["val_loss", "loss", "val_mae", "val_mean_squared_error"])
def test_auto_mode_minimises_losses_and_errors(name: str) -> None:
    assert not higher_is_better(name)


def test_explicit_mode_overrides_the_name() -> None:
    assert higher_is_better("val_loss", "max")
    assert not higher_is_better("val_entity_f1", "min")


def test_min_mode_keeps_the_lowest_value_and_its_weights() -> None:
    best = BestEpoch("val_loss", "min")
    run_epochs(best, [0.9, 0.4, 0.6])
    assert (best.step, best.value, best.weights) == (1, 0.4, [1])


def test_max_mode_keeps_the_highest_value() -> None:
    best = BestEpoch("val_auc", "max")
    run_epochs(best, [0.6, 0.8, 0.7])
    assert (best.step, best.value) == (1, 0.8)


def test_auto_mode_on_a_custom_score_the_name_does_not_reveal_needs_max() -> None:
    auto, explicit = BestEpoch("val_dice"), BestEpoch("val_dice", "max")
    run_epochs(auto, [0.2, 0.9])
    run_epochs(explicit, [0.2, 0.9])
    assert auto.step == 0  # read as a loss
    assert explicit.step == 1


def test_a_tie_keeps_the_earlier_epoch_and_does_not_copy_weights_again() -> None:
    best = BestEpoch("val_entity_f1")
    read = run_epochs(best, [0.5, 0.7, 0.7])
    assert best.step == 1
    assert read == [0, 1]


def test_epochs_without_the_metric_change_nothing() -> None:
    best = BestEpoch("val_entity_f1")
    assert run_epochs(best, [None, None]) == []
    assert best.step is None and best.metrics() == {}
    run_epochs(best, [None, 0.3, None])
    assert best.step == 1


def test_best_metrics_name_the_monitor() -> None:
    best = BestEpoch("val_loss")
    run_epochs(best, [0.5, 0.25])
    assert best.metrics() == {"best_epoch": 1, "best_val_loss": 0.25}


def test_the_report_of_the_best_epoch_is_kept() -> None:
    best = BestEpoch("val_entity_f1")
    report: Any = object()
    best.update(0, {"val_entity_f1": 0.5}, list, report)
    best.update(1, {"val_entity_f1": 0.4}, list, None)
    assert best.report is report


@pytest.mark.parametrize(
    ("task", "evaluates", "has_validation", "expected"),
    [
        ("labeling", True, True, "val_entity_f1"),
        ("classification", True, True, "val_class_f1"),
        ("labeling", False, True, "val_loss"),  # eval_every_n_epochs=0
        ("labeling", False, False, "loss"),
    ],
)
def test_default_monitor(task: str, evaluates: bool, has_validation: bool, expected: str) -> None:
    assert default_monitor(task, evaluates, has_validation) == expected


def test_callback_refuses_an_unknown_mode() -> None:
    from kashgari_mlflow import MlflowCallback

    with pytest.raises(ValueError, match=r"mode must be 'auto', 'min' or 'max', got 'lowest'"):
        MlflowCallback(mode="lowest")  # type: ignore[arg-type]
    assert MlflowCallback(mode="min").mode == "min"


def fit_state(best: BestEpoch | None, last_step: int, callbacks: list[Any] = ()) -> Any:
    from kashgari_mlflow._discovery import FitContext
    from kashgari_mlflow._tracking._fit_state import FitState
    from kashgari_mlflow._tracking._steps import StepCounter

    steps = StepCounter(first_free=10)
    steps.start_epoch(0)  # a second fit in the run: epoch e is step 10 + e
    context = FitContext(kash_model=None, callbacks=list(callbacks))
    fit = FitState(run=None, context=context, evaluator=None, best=best, steps=steps)  # type: ignore[arg-type]
    fit.last_step = last_step
    return fit


def best_at(step: int) -> BestEpoch:
    best = BestEpoch("val_loss", "min")
    best.update(step, {"val_loss": 0.1}, lambda: [f"weights of {step}"])
    return best


def stopper(stopped_epoch: int, best_epoch: int, restore: bool = True) -> Any:
    import tensorflow as tf

    early = tf.keras.callbacks.EarlyStopping(restore_best_weights=restore)
    early.stopped_epoch, early.best_epoch = stopped_epoch, best_epoch
    return early


def test_the_logged_model_is_labelled_with_the_step_of_the_weights_it_holds() -> None:
    # log_model="last": the last epoch's weights, at its step.
    assert fit_state(None, last_step=12).logged_step() == 12
    assert fit_state(None, last_step=12).logged_weights() is None
    # log_model="best": the best epoch's weights and step, when they are not the last.
    best = fit_state(best_at(11), last_step=12)
    assert (best.logged_step(), best.logged_weights()) == (11, ["weights of 11"])
    # The best epoch is the last: the network's weights, the last step.
    at_last = fit_state(best_at(12), last_step=12)
    assert (at_last.logged_step(), at_last.logged_weights()) == (12, None)
    # The monitor never appeared: the network's weights and step.
    unseen = fit_state(BestEpoch("val_entity_f1"), last_step=12)
    assert (unseen.logged_step(), unseen.logged_weights()) == (12, None)


def test_weights_restored_by_early_stopping_are_labelled_with_their_epoch() -> None:
    restored = [stopper(stopped_epoch=3, best_epoch=1)]  # the network holds epoch 1 (step 11)
    last = fit_state(None, last_step=13, callbacks=restored)
    assert (last.logged_step(), last.logged_weights()) == (11, None)
    # Our best is the last epoch, but the network holds the stopper's: log ours explicitly.
    ours = fit_state(best_at(13), last_step=13, callbacks=restored)
    assert (ours.logged_step(), ours.logged_weights()) == (13, ["weights of 13"])
    same = fit_state(best_at(11), last_step=13, callbacks=restored)
    assert (same.logged_step(), same.logged_weights()) == (11, None)
    # Not restored (or not stopped): the last epoch's weights.
    kept = [stopper(stopped_epoch=3, best_epoch=1, restore=False)]
    assert fit_state(None, last_step=13, callbacks=kept).logged_step() == 13
    ran_out = [stopper(stopped_epoch=0, best_epoch=1)]
    assert fit_state(None, last_step=13, callbacks=ran_out).logged_step() == 13


def test_the_step_reaches_mlflow_3s_model_log_only() -> None:
    from kashgari_mlflow._compat import model_log_step_kwargs

    def mlflow_3_log(name: str, flavor: Any, step: int = 0, **kwargs: Any) -> None: ...

    def mlflow_2_log(artifact_path: str, flavor: Any, **kwargs: Any) -> None: ...

    assert model_log_step_kwargs(mlflow_3_log, 4) == {"step": 4}
    assert model_log_step_kwargs(mlflow_3_log, None) == {}
    assert model_log_step_kwargs(mlflow_2_log, 4) == {}
