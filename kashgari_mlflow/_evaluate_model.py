"""Evaluate a logged NER model on labelled data in one call (what the command line runs)."""

from __future__ import annotations

from typing import Any


def evaluate_model(
    model: Any,
    data: Any,
    *,
    train_data: Any = None,
    scheme: str | None = None,
    batch_size: int = 64,
    metric_prefix: str = "",
    run_name: str | None = None,
) -> Any:
    """Score a model with the ``kashgari-ner`` evaluator of ``mlflow.models.evaluate``.

    Logs the entity scores, SemEval-2013 counts, error kinds and error-analysis
    artifacts to the active run, or to a new run of the active experiment
    (named ``run_name``) that ends when the evaluation does. The data is read
    and the model loaded first: if either fails, no run is started.

    Args:
        model: A model URI (``models:/ner@champion``, ``runs:/<id>/model``...) or a
            loaded pyfunc model.
        data: A CoNLL file path, a pair ``(token lists, tag lists)``, or a DataFrame
            with ``tokens`` and ``tags`` columns.
        train_data: The training data in the same forms, for the seen/unseen split.
        scheme: How tags form entities (default: the scheme the model was saved with).
        batch_size: Sentences per forward pass.
        metric_prefix: Prepended to every metric name.
        run_name: Name of the run this starts when no run is active.

    Returns:
        MLflow's ``EvaluationResult``: ``metrics`` (``val_strict_f1`` ...),
        ``artifacts`` and ``run_id``.

    Raises:
        mlflow.exceptions.MlflowException: If the data, a setting or the model's
            answers cannot be scored, or the model cannot be loaded; the message
            says what is wrong.
        FileNotFoundError: If a data file does not exist.

    Example:
        >>> result = evaluate_model("models:/ner@champion", "test.conll")  # doctest: +SKIP
        >>> result.metrics["val_entity_f1"]  # doctest: +SKIP
    """
    from kashgari_mlflow._tracking._prefetch import wait_for_background_imports

    wait_for_background_imports()  # mlflow.models.evaluate imports matplotlib.pyplot
    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from kashgari_mlflow._evaluation_inputs import read_evaluation_data
    from kashgari_mlflow.evaluator import EVALUATOR_NAME, MODEL_TYPES, parse_settings

    if model is None:
        raise MlflowException.invalid_parameter_value("evaluate_model needs a model or its URI.")
    config: dict[str, Any] = {"batch_size": batch_size, "metric_prefix": metric_prefix}
    if scheme is not None:
        config["scheme"] = scheme
    try:
        x, y = read_evaluation_data(data)
        if train_data is not None:
            try:
                config["train_data"] = read_evaluation_data(train_data)
            except (ValueError, OSError) as err:
                raise ValueError(f"train_data: {err}") from err
        parse_settings(config)  # every setting checked before a model loads or a run starts
    except ValueError as error:
        raise MlflowException.invalid_parameter_value(str(error)) from error
    frame = pd.DataFrame({"tokens": x, "tags": y})
    if isinstance(model, str):  # loaded before a run starts: a bad URI leaves no failed run
        model = mlflow.pyfunc.load_model(model)
    active = mlflow.active_run()
    started = active is None
    run_id = (mlflow.start_run(run_name=run_name) if active is None else active).info.run_id
    try:
        result = mlflow.models.evaluate(
            model,
            frame,
            targets="tags",
            model_type=MODEL_TYPES[0],
            evaluators=EVALUATOR_NAME,
            evaluator_config=config,
        )
    except BaseException:
        if started:
            mlflow.end_run("FAILED")
        raise
    if started:
        mlflow.end_run()
    if not hasattr(result, "run_id"):  # MLflow 2's EvaluationResult keeps it private
        result.run_id = run_id
    return result
