"""What the end of a ``fit`` logs: the reports and charts, then the trained model."""

from __future__ import annotations

from typing import Any, Protocol

from kashgari_mlflow._tracking._artifacts import log_error_analysis, log_reports
from kashgari_mlflow._tracking._fit_state import FitState
from kashgari_mlflow._tracking._model_logging import input_example, log_trained_model


class ModelOptions(Protocol):
    """The callback's settings for the logged model (see ``MlflowCallback``'s arguments)."""

    log_model: Any
    model_name: str
    registered_model_name: str | None
    scheme: Any
    tokenizer: Any
    #: The tokenizer ``"auto"`` chose for this fit, or None.
    chosen_tokenizer: str | None


def log_fit_end(options: ModelOptions, fit: FitState, tf_model: Any) -> Any:
    """Log the reports and charts, then the model unless ``log_model`` is off.

    Args:
        options: The callback's settings.
        fit: The fit that ended.
        tf_model: The network that was trained (the callback's ``model``).

    Returns:
        MLflow's ``ModelInfo`` of the logged model, or None (no model logged, or
        kept in a local folder).
    """
    kash_model, task = fit.context.kash_model, fit.evaluator.task
    log_reports(fit.run, kash_model, tf_model, task, fit.logged_report(), fit.history)
    data = fit.evaluator.data
    log_error_analysis(fit.run, fit.logged_analysis(), data[0] if data is not None else None)
    if not options.log_model:
        return None
    tokenizer = options.chosen_tokenizer or options.tokenizer
    return log_trained_model(
        fit.run,
        kash_model,
        tf_model=tf_model,
        weights=fit.logged_weights(),
        step=fit.logged_step(),
        model_name=options.model_name,
        registered_model_name=options.registered_model_name,
        tokenizer=tokenizer,
        scheme=options.scheme,
        example=input_example(fit.context, tokenizer),
    )
