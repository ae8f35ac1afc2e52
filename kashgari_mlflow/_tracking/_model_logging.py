"""Log the trained model to the run, or keep it in a local folder when that fails."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from kashgari_mlflow._discovery import FitContext
from kashgari_mlflow._entities import Scheme
from kashgari_mlflow._tokenizers import join_tokens, token_joiner
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._runs import TrackedRun


@contextmanager
def weights_of(tf_model: Any, weights: list[Any] | None) -> Any:
    """Within the block the network holds ``weights`` (None: its own); restored afterwards."""
    if weights is None:
        yield
        return
    restore = tf_model.get_weights()
    tf_model.set_weights(weights)
    try:
        yield
    finally:
        tf_model.set_weights(restore)


def input_example(context: FitContext, tokenizer: str | Callable[..., Any]) -> list[str] | None:
    """Two sentences of the fit data as text, saved with the model as its input example."""
    sentences = context.valid_x or context.train_x
    if not sentences:
        return None
    joiner = token_joiner(tokenizer if isinstance(tokenizer, str) else "function")
    example = [
        join_tokens([str(token) for token in sentence], joiner)
        for sentence in list(sentences)[:2]
        if len(sentence) > 0
    ]
    return example or None


def log_trained_model(
    run: TrackedRun,
    kash_model: Any,
    *,
    tf_model: Any,
    weights: list[Any] | None,
    step: int | None,
    model_name: str,
    registered_model_name: str | None,
    tokenizer: str | Callable[..., Any],
    scheme: Scheme,
    example: list[str] | None,
) -> Any:
    """Log ``kash_model`` to the run; on failure (not strict) save it locally and warn.

    Args:
        run: The run to log to.
        kash_model: The trained Kashgari model.
        tf_model: The network being trained (the callback's ``model``).
        weights: Weights to log instead of the network's own (the best epoch's), or None.
        step: The step of the epoch those weights are from: MLflow 3 shows that
            epoch's metrics on the logged model.
        model_name: Name of the logged model in the run.
        registered_model_name: Also register the model under this name.
        tokenizer: Tokenizer saved with the model.
        scheme: Tag scheme saved with the model.
        example: The model's input example.

    Returns:
        MLflow's ``ModelInfo``, or None when the model was kept locally.
    """
    from mlflow.models import Model

    from kashgari_mlflow._compat import model_log_step_kwargs
    from kashgari_mlflow.flavor import log_model

    run_id, policy = run.run_id, run.sender.policy

    def keep_locally(err: Exception) -> None:
        keep_model_locally(kash_model, model_name, tokenizer, scheme, run_id, err, policy)

    with (
        weights_of(tf_model, weights),
        policy.guard("log the trained model", fallback=keep_locally),
    ):
        return log_model(
            kash_model,
            model_name,
            run_id=run_id,
            registered_model_name=registered_model_name,
            tokenizer=tokenizer,
            scheme=scheme,
            input_example=example,
            # MLflow would reload the saved model to run the example (seconds per
            # log); the flavor's tests prove such examples serve.
            validate_serving_input=False,
            **model_log_step_kwargs(Model.log, step),
        )
    return None


def keep_model_locally(
    kash_model: Any,
    model_name: str,
    tokenizer: str | Callable[..., Any],
    scheme: Scheme,
    run_id: str,
    err: Exception,
    policy: FailurePolicy,
) -> str:
    """Save the model to a new temporary folder and say where; return its path."""
    from kashgari_mlflow.flavor import save_model

    path = os.path.join(tempfile.mkdtemp(prefix="kashgari-mlflow-model-"), model_name)
    save_model(kash_model, path, tokenizer=tokenizer, scheme=scheme)
    policy.warn(
        f"Could not log the trained model to run {run_id} ({type(err).__name__}: "
        f"{err}). It was saved to {path}; log it later with "
        "mlflow.log_artifacts(path, artifact_path=...) or kashgari_mlflow.log_model.",
        stacklevel=4,
    )
    return path
