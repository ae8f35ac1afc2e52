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
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.models.evaluation.base import EvaluationResult, ModelEvaluator

#: The name to pass as ``evaluators=`` (and the entry point's name).
EVALUATOR_NAME = "kashgari-ner"
#: ``model_type`` values this evaluator answers to.
MODEL_TYPES = ("ner", "token-classification")
_CONFIG_KEYS = ("scheme", "train_data", "batch_size", "metric_prefix")
_MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
#: Longest ``metric_prefix``: the longest names stay within MLflow's 250 characters.
MAX_PREFIX_LENGTH = 100


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
            return _evaluate(model, dataset, run_id, evaluator_config or {})
        except ValueError as error:  # EvaluationInputError, ConllFormatError and the like
            raise MlflowException.invalid_parameter_value(str(error)) from error


@dataclass(frozen=True)
class EvaluatorSettings:
    """A checked ``evaluator_config``.

    Attributes:
        scheme: How tags form entities.
        batch_size: Sentences per forward pass.
        metric_prefix: Prepended to every metric name.
        seen_forms: Entity surface forms of the training data, or None.
    """

    scheme: Any
    batch_size: int
    metric_prefix: str
    seen_forms: frozenset[str] | None


def parse_settings(config: Any, model: Any = None) -> EvaluatorSettings:
    """Check ``evaluator_config`` and read its ``train_data``.

    Raises:
        ValueError: Naming the key that is wrong and why.
    """
    from kashgari_mlflow._error_analysis import surface_forms
    from kashgari_mlflow._evaluation_inputs import read_evaluation_data

    if not isinstance(config, Mapping):
        raise ValueError(f"evaluator_config must be a dict, not {type(config).__name__}.")
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise ValueError(
            f"Unknown evaluator_config keys {unknown} for {EVALUATOR_NAME}; it takes "
            f"{', '.join(_CONFIG_KEYS)}."
        )
    scheme = _scheme(config.get("scheme"), model)
    seen = None
    if config.get("train_data") is not None:
        try:
            seen = surface_forms(*read_evaluation_data(config["train_data"]), scheme=scheme)
        except (ValueError, OSError) as err:
            raise ValueError(f"train_data: {_reason(err)}") from err
    return EvaluatorSettings(
        scheme,
        _batch_size(config.get("batch_size", 64)),
        _metric_prefix(config.get("metric_prefix") or ""),
        seen,
    )


def _evaluate(model: Any, dataset: Any, run_id: str, config: Any) -> EvaluationResult:
    from mlflow import MlflowClient

    from kashgari_mlflow._error_analysis import analysis_metrics
    from kashgari_mlflow._evaluation import report_metrics, score_entities
    from kashgari_mlflow._evaluation_inputs import (
        aligned_tags,
        sentences_from_features,
        tags_from_answers,
    )
    from kashgari_mlflow._keys import mlflow_key
    from kashgari_mlflow._redaction import Redactor
    from kashgari_mlflow._tracking._artifacts import log_evaluation_artifacts

    settings = parse_settings(config, model)
    x = sentences_from_features(dataset.features_data)
    if dataset.labels_data is None:
        raise ValueError("The evaluation data has no gold tags: name their column with targets=.")
    y = aligned_tags(list(dataset.labels_data), x, "gold tags")
    if model is not None:
        predicted = tags_from_answers(_predict(model, x, settings.batch_size), x)
    elif dataset.predictions_data is not None:
        predicted = aligned_tags(list(dataset.predictions_data), x, "predicted tags")
    else:
        raise ValueError("Nothing to score: pass a model, or predictions= naming a tag column.")
    report, analysis = score_entities(
        x, y, predicted, scheme=settings.scheme, seen_forms=settings.seen_forms
    )
    scores = {**report_metrics(report, "val_entity"), **analysis_metrics(analysis, "val")}
    redactor = Redactor()  # a label holding a secret is masked, as in the callback's names
    metrics = {
        mlflow_key(redactor.key(settings.metric_prefix + name)): value
        for name, value in scores.items()
    }
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
    from kashgari_mlflow._pyfunc import MAX_BATCH_SIZE

    valid = isinstance(value, int) and not isinstance(value, bool)
    if not valid or not 1 <= value <= MAX_BATCH_SIZE:
        raise ValueError(
            f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, not {value!r}."
        )
    return int(value)


def _metric_prefix(value: Any) -> str:
    from kashgari_mlflow._keys import mlflow_key

    text = str(value)
    name = text + "val_entity_f1"  # a prefix is fine if the names it starts are
    if mlflow_key(name) != name or ".." in text or len(text) > MAX_PREFIX_LENGTH:
        raise ValueError(
            f"metric_prefix {text!r} cannot start MLflow metric names: use at most "
            f"{MAX_PREFIX_LENGTH} letters, digits, '_', '-', '.', ' ' or '/', without '..'."
        )
    return text


def _reason(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"no such file: {error.filename}"
    return str(error)


def _predict(model: Any, x: list[list[str]], batch_size: int) -> Any:
    """The model's tags for ``x``: this flavor's tagger itself, else the pyfunc's answers.

    A model of this flavor loaded in this process tags with the callback's own
    code (its tagger), so every token the training scored is scored here too,
    including those the pyfunc's input checks refuse in raw requests (tagged
    whitespace, as in People's Daily files).
    """
    import pandas as pd

    try:
        tagger = model.get_raw_model()
    except (AttributeError, NotImplementedError):  # another flavor, or a served model
        tagger = None
    if callable(getattr(tagger, "predict_tags", None)):
        return tagger.predict_tags(x, batch_size)
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
    names = {
        "entity_report/report.json": "entity_report",
        "entity_report/report.txt": "entity_report_text",
    }
    artifacts = {}
    for path in paths:
        stem, dot, extension = path.rpartition("/")[2].rpartition(".")
        kind = kinds.get(dot + extension, TextEvaluationArtifact)
        artifacts[names.get(path, stem)] = kind(f"{root}/{path}")
    return artifacts
