"""``mlflow.models.evaluate`` for NER: the ``kashgari-ner`` evaluator.

Registered through the ``mlflow.model_evaluator`` entry point, so installing
this package is enough::

    import mlflow
    import pandas as pd

    data = pd.DataFrame({"tokens": [["John", "lives", "in", "Paris"]],
                         "tags": [["B-PER", "O", "O", "B-LOC"]]})
    result = mlflow.models.evaluate("models:/ner@champion", data, targets="tags",
                                    model_type="ner", evaluators="kashgari-ner")
    result.metrics["val_strict_f1"]

It scores every model of this flavor (and any pyfunc model that answers a tag
per token) with the callback's own code: the same metric names and values as
the callback's last evaluated epoch on the same data (entity P/R/F1, the
SemEval-2013 schemes, the error kinds, F1 by entity length, seen/unseen with
``train_data``), and the same report and error-analysis artifacts. It also
scores stored predictions (``model=None, predictions="<column>"``).

``evaluator_config`` keys (all optional):

* ``scheme``: ``"default"``, ``"IOB2"`` or ``"IOBES"`` (default: the scheme the
  model was saved with, else ``"default"``);
* ``train_data``: the training data (CoNLL path or ``(x, y)``) for the
  seen/unseen split;
* ``batch_size``: sentences per forward pass (default 64);
* ``metric_prefix``: prepended to every metric name (e.g. ``"test_"``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.models.evaluation.base import EvaluationResult, ModelEvaluator

#: The name to pass as ``evaluators=`` (and the entry point's name).
EVALUATOR_NAME = "kashgari-ner"
#: ``model_type`` values this evaluator answers to.
MODEL_TYPES = ("ner", "token-classification")
_CONFIG_KEYS = ("scheme", "train_data", "batch_size", "metric_prefix")
_MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call


class KashgariNerEvaluator(ModelEvaluator):
    """Entity-level scores and error analysis of a NER model, as ``mlflow.models.evaluate`` runs."""

    name = EVALUATOR_NAME

    @classmethod
    def can_evaluate(cls, *, model_type: Any, evaluator_config: Any, **kwargs: Any) -> bool:
        """Whether ``model_type`` is ``"ner"`` or ``"token-classification"``."""
        return model_type in MODEL_TYPES

    def evaluate(
        self,
        *,
        model_type: Any,
        dataset: Any,
        run_id: str,
        evaluator_config: Mapping[str, Any] | None,
        model: Any = None,
        predictions: Any = None,
        **kwargs: Any,
    ) -> EvaluationResult:
        """Predict (or read the stored predictions), score, and log to ``run_id``.

        Raises:
            MlflowException: ``INVALID_PARAMETER_VALUE`` with what is wrong, if the
                data, the configuration or the model's answers cannot be scored.
        """
        try:
            return _evaluate(model, dataset, run_id, dict(evaluator_config or {}))
        except ValueError as error:  # EvaluationInputError, ConllFormatError and the like
            raise MlflowException.invalid_parameter_value(str(error)) from error


def _evaluate(model: Any, dataset: Any, run_id: str, config: dict[str, Any]) -> EvaluationResult:
    from mlflow import MlflowClient

    from kashgari_mlflow._error_analysis import analysis_metrics, surface_forms
    from kashgari_mlflow._evaluation import report_metrics, score_entities
    from kashgari_mlflow._evaluation_inputs import (
        aligned_tags,
        read_evaluation_data,
        sentences_from_features,
        tags_from_answers,
    )
    from kashgari_mlflow._keys import mlflow_key
    from kashgari_mlflow._tracking._artifacts import log_evaluation_artifacts

    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown evaluator_config keys {unknown} for {EVALUATOR_NAME}; it takes "
            f"{', '.join(_CONFIG_KEYS)}."
        )
    scheme = _scheme(config.get("scheme"), model)
    batch_size = _batch_size(config.get("batch_size", 64))
    x = sentences_from_features(dataset.features_data)
    if dataset.labels_data is None:
        raise ValueError("The evaluation data has no gold tags: name their column with targets=.")
    y = aligned_tags(list(dataset.labels_data), x, "gold tags")
    if model is not None:
        predicted = tags_from_answers(_predict(model, x, batch_size), x)
    elif dataset.predictions_data is not None:
        predicted = aligned_tags(list(dataset.predictions_data), x, "predicted tags")
    else:
        raise ValueError("Nothing to score: pass a model, or predictions= naming a tag column.")
    seen = None
    if config.get("train_data") is not None:
        seen = surface_forms(*read_evaluation_data(config["train_data"]), scheme=scheme)
    report, analysis = score_entities(x, y, predicted, scheme=scheme, seen_forms=seen)
    prefix = str(config.get("metric_prefix") or "")
    scores = {**report_metrics(report, "val_entity"), **analysis_metrics(analysis, "val")}
    metrics = {mlflow_key(prefix + name): value for name, value in scores.items()}

    client = MlflowClient()
    _log_metrics(client, run_id, metrics)
    paths = log_evaluation_artifacts(client, run_id, report, analysis, x)
    artifact_root = client.get_run(run_id).info.artifact_uri.rstrip("/")
    return EvaluationResult(metrics, _artifacts(artifact_root, paths), run_id=run_id)


def _scheme(value: Any, model: Any) -> Any:
    from kashgari_mlflow._entities import SCHEMES
    from kashgari_mlflow._layout import FLAVOR_NAME

    if value is None:
        flavors = getattr(getattr(model, "metadata", None), "flavors", None) or {}
        value = flavors.get(FLAVOR_NAME, {}).get("scheme", "default")
    if value not in SCHEMES:
        raise ValueError(f"Unknown scheme {value!r}: use one of {', '.join(SCHEMES)}.")
    return value


def _batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"batch_size must be a positive integer, not {value!r}.")
    return value


def _predict(model: Any, x: list[list[str]], batch_size: int) -> Any:
    import pandas as pd

    frame = pd.DataFrame({"tokens": x})
    schema = model.metadata.get_params_schema() if getattr(model, "metadata", None) else None
    names = {param.name for param in schema.params} if schema is not None else set()
    params: dict[str, Any] = {}
    if "batch_size" in names:
        params["batch_size"] = batch_size
    if "output" in names:
        params["output"] = "tags"
    return model.predict(frame, params=params) if params else model.predict(frame)


def _log_metrics(client: Any, run_id: str, metrics: Mapping[str, float]) -> None:
    from mlflow.entities import Metric

    timestamp = int(time.time() * 1000)
    entries = [Metric(key, float(value), timestamp, 0) for key, value in metrics.items()]
    for start in range(0, len(entries), _MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=entries[start : start + _MAX_METRICS_PER_BATCH])


def _artifacts(root: str, paths: list[str]) -> dict[str, Any]:
    """``EvaluationResult`` artifacts by name (``type_confusion``, ``errors``...)."""
    from mlflow.models.evaluation.artifacts import (
        ImageEvaluationArtifact,
        JsonEvaluationArtifact,
        TextEvaluationArtifact,
    )

    kinds = {".json": JsonEvaluationArtifact, ".png": ImageEvaluationArtifact}
    artifacts = {}
    for path in paths:
        folder, _, file_name = path.rpartition("/")
        stem, dot, extension = file_name.rpartition(".")
        name = f"{folder}_{stem}" if folder == "entity_report" else stem
        artifacts[name] = kinds.get(dot + extension, TextEvaluationArtifact)(f"{root}/{path}")
    return artifacts
