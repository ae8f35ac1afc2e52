"""How a ``fit`` starts: its run and collaborators, then its params, version tags and datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from kashgari_mlflow._compat import task_of
from kashgari_mlflow._datasets import log_datasets, make_dataset
from kashgari_mlflow._discovery import FitContext
from kashgari_mlflow._params import model_params, version_tags
from kashgari_mlflow._tracking._best import BestEpoch, Mode, default_monitor, higher_is_better
from kashgari_mlflow._tracking._early_stopping import early_stopping_params, find_early_stopping
from kashgari_mlflow._tracking._evaluator import Evaluator, evaluation_data
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._fit_state import FitState
from kashgari_mlflow._tracking._retries import quick_retries
from kashgari_mlflow._tracking._runs import TrackedRun
from kashgari_mlflow._tracking._steps import StepCounter, first_free_step


class FitOptions(Protocol):
    """The callback's settings that shape a fit (see ``MlflowCallback``'s arguments)."""

    experiment_name: str | None
    run_name: str | None
    run_id: str | None
    tags: Mapping[str, Any]
    nested: bool | None
    log_model: Any
    monitor: str | None
    mode: Mode
    eval_every_n_epochs: int
    eval_data: tuple[Any, Any] | None
    scheme: Any
    eval_batch_size: int
    strict: bool
    final_flush_seconds: float


def start_fit(
    options: FitOptions,
    context: FitContext,
    keras_params: Mapping[str, Any],
    tokenizer: str,
    run_id: str | None = None,
) -> FitState:
    """Open the fit's run, log what the fit starts with, and set up its collaborators.

    Args:
        options: The callback's settings.
        context: What the ``fit`` was given.
        keras_params: Keras' ``callback.params`` (``epochs``, ``steps``).
        tokenizer: The tokenizer the model is saved with (``"auto"`` already decided).
        run_id: The run to continue instead of ``options.run_id`` (a resumed training).
    """
    task = task_of(context.kash_model)
    data = evaluation_data(options.eval_data, context)
    evaluator = Evaluator(
        context.kash_model,
        task,
        data,
        every_n=options.eval_every_n_epochs,
        scheme=options.scheme,
        batch_size=options.eval_batch_size,
        train_data=training_data(context),
    )
    monitor = options.monitor or default_monitor(task, evaluator.enabled, data is not None)
    run = TrackedRun.open(
        experiment_name=options.experiment_name,
        run_name=options.run_name,
        run_id=run_id or options.run_id,
        tags=options.tags,
        nested=options.nested,
        policy=FailurePolicy(options.strict),
        final_flush_seconds=options.final_flush_seconds,
    )
    settings = {
        "entity_eval.scheme": options.scheme,
        "entity_eval.every_n_epochs": options.eval_every_n_epochs,
        "log_model": options.log_model,
        "tokenizer": tokenizer,
    }
    explicit = options.eval_data is not None
    first_free = log_fit_start(run, context, keras_params, settings, data, task, explicit)
    best = BestEpoch(monitor, options.mode) if options.log_model == "best" else None
    fit = FitState(run, context, evaluator, best, StepCounter(first_free))
    fit.monitor, fit.higher_is_better = monitor, higher_is_better(monitor, options.mode)
    return fit


def training_data(context: FitContext) -> tuple[Any, Any] | None:
    """The fit's training ``(x, y)``, when ``fit`` was given both."""
    if context.train_x is None or context.train_y is None:
        return None
    return context.train_x, context.train_y


def log_fit_start(
    run: TrackedRun,
    context: FitContext,
    keras_params: Mapping[str, Any],
    settings: Mapping[str, Any],
    evaluation: tuple[Any, Any] | None,
    task: str,
    explicit_eval_data: bool,
) -> int:
    """Send the fit's params and tags, record its datasets; return the first free step.

    Args:
        run: The run to write to.
        context: What the ``fit`` was given.
        keras_params: Keras' ``callback.params`` (``epochs``, ``steps``).
        settings: The callback's own settings to record as params.
        evaluation: The data scored during training, if any.
        task: ``"labeling"`` or ``"classification"`` (the ``kashgari_mlflow.task`` tag).
        explicit_eval_data: ``evaluation`` is the callback's ``eval_data``.
    """
    sender = run.sender
    stopper = find_early_stopping(context.callbacks)
    sender.queue_params(fit_params(context, keras_params, stopper, settings))
    sender.queue_tags({**version_tags(), "kashgari_mlflow.task": task})
    first_free = first_free_step(sender.client, run.run_id)
    sender.flush()
    datasets = fit_datasets(context, evaluation, explicit_eval_data=explicit_eval_data)
    if datasets:
        with sender.policy.guard("log the datasets"), quick_retries():
            log_datasets(sender.client, run.run_id, datasets)
    return first_free


def fit_params(
    context: FitContext,
    keras_params: Mapping[str, Any],
    stopper: Any,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """Params of the run (None values left out; see :func:`kashgari_mlflow._params.make_safe`).

    Args:
        context: What the ``fit`` was given.
        keras_params: Keras' ``callback.params`` (``epochs``, ``steps``).
        stopper: The fit's ``EarlyStopping`` callback, or None.
        settings: The callback's own settings to record (``entity_eval.scheme``...).
    """
    params = model_params(context.kash_model)
    params["epochs"] = keras_params.get("epochs")
    params["steps_per_epoch"] = keras_params.get("steps")
    params["batch_size"] = context.batch_size
    if context.train_x is not None:
        params["train_sentences"] = len(context.train_x)
    if context.valid_x is not None:
        params["validation_sentences"] = len(context.valid_x)
    params.update(settings)
    params.update(early_stopping_params(stopper))
    return {key: value for key, value in params.items() if value is not None}


def fit_datasets(
    context: FitContext, evaluation: tuple[Any, Any] | None, *, explicit_eval_data: bool
) -> list[tuple[Any, str]]:
    """``(dataset, context)`` pairs: ``train`` (training) and the evaluation data (validation).

    Args:
        context: What the ``fit`` was given.
        evaluation: The data scored during training, if any.
        explicit_eval_data: It is the callback's ``eval_data`` (named ``eval_data``,
            else ``validation``).
    """
    datasets = []
    if context.train_x is not None:
        datasets.append((make_dataset(context.train_x, context.train_y, "train"), "training"))
    if evaluation is not None:
        name = "eval_data" if explicit_eval_data else "validation"
        datasets.append((make_dataset(evaluation[0], evaluation[1], name), "validation"))
    return datasets
