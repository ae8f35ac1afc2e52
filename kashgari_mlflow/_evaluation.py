"""Entity-level evaluation of a Kashgari labeling model during training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kashgari_mlflow._entities import Scheme
from kashgari_mlflow._error_analysis import ErrorAnalysis, analyze_spans
from kashgari_mlflow._keys import mlflow_key
from kashgari_mlflow._metrics import (
    EntityReport,
    label_report,
    report_from_spans,
    sentence_spans,
)
from kashgari_mlflow._redaction import Redactor
from kashgari_mlflow._tagger import Tagger


def evaluate_entities(
    kash_model: Any,
    x: Sequence[Sequence[str]],
    y: Sequence[Sequence[str]],
    *,
    scheme: Scheme,
    batch_size: int,
    tagger: Tagger | None = None,
) -> EntityReport:
    """One forward pass over ``x`` and an entity-level report against ``y``.

    Pass the same ``tagger`` on every call of one training so that its graph
    is traced only once.

    Raises:
        ValueError: If ``x`` and ``y`` differ in length, sentence for sentence.
    """
    return tag_and_score(tagger or Tagger.from_kashgari(kash_model), x, y, scheme=scheme,
                         batch_size=batch_size)[0]  # fmt: skip


def tag_and_score(
    tagger: Tagger,
    x: Sequence[Sequence[str]],
    y: Sequence[Sequence[str]],
    *,
    scheme: Scheme,
    batch_size: int,
    seen_forms: frozenset[str] | None = None,
) -> tuple[EntityReport, ErrorAnalysis]:
    """One forward pass over ``x``, then :func:`score_entities` against ``y``.

    Raises:
        ValueError: If ``x`` and ``y`` differ in length, sentence for sentence.
    """
    if len(x) != len(y):
        raise ValueError(
            f"Evaluation data has {len(x)} sentences but {len(y)} tag sequences; pass one tag "
            "list per sentence."
        )
    predicted = tagger.predict_tags(x, batch_size=batch_size)
    return score_entities(x, y, predicted, scheme=scheme, seen_forms=seen_forms)


def score_entities(
    x: Sequence[Sequence[str]],
    y: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    *,
    scheme: Scheme,
    seen_forms: frozenset[str] | None = None,
) -> tuple[EntityReport, ErrorAnalysis]:
    """Entity scores and error analysis of predicted tags, finding each entity once.

    Args:
        x: The sentences' tokens.
        y: Gold tags.
        predicted: Predicted tags.
        scheme: How tags form entities.
        seen_forms: Entity surface forms of the training data, for the
            seen/unseen split (:func:`kashgari_mlflow._error_analysis.surface_forms`).

    Raises:
        ValueError: If the lists, or any pair of sentences, differ in length.
    """
    gold_spans, predicted_spans, exact = sentence_spans(y, predicted, scheme)
    report = report_from_spans(gold_spans, predicted_spans, exact)
    analysis = analyze_spans(gold_spans, predicted_spans, x=x, seen_forms=seen_forms)
    return report, analysis


def evaluate_classes(
    kash_model: Any, x: Sequence[Sequence[str]], y: Sequence[Any], *, batch_size: int
) -> EntityReport:
    """Per-class scores of a Kashgari classification model on ``(x, y)``."""
    if len(x) != len(y):
        raise ValueError(
            f"Evaluation data has {len(x)} samples but {len(y)} labels; pass one label per sample."
        )
    predicted = kash_model.predict(x, batch_size=batch_size, predict_kwargs={"verbose": 0})
    return label_report(y, predicted)


def report_metrics(report: EntityReport, prefix: str = "val_entity") -> dict[str, float]:
    """Flatten a report into MLflow metric names.

    ``val_entity_f1`` (micro; also ``_precision``, ``_recall``),
    ``val_entity_macro_f1``, ``val_entity_weighted_f1`` (and their precision and
    recall), per type ``val_entity_f1/<type>`` with ``_precision``/``_recall``,
    and for a labeling report ``val_sentence_accuracy`` (the share of sentences
    tagged without a single error).
    """
    metrics: dict[str, float] = {}
    for average, score in (
        ("", report.micro),
        ("_macro", report.macro),
        ("_weighted", report.weighted),
    ):
        metrics[f"{prefix}{average}_precision"] = score.precision
        metrics[f"{prefix}{average}_recall"] = score.recall
        metrics[f"{prefix}{average}_f1"] = score.f1
    redactor = Redactor()  # a type named after a secret: masked before characters are replaced
    for entity_type, score in report.per_type.items():
        name = redactor.key(entity_type)
        metrics[mlflow_key(f"{prefix}_precision/{name}")] = score.precision
        metrics[mlflow_key(f"{prefix}_recall/{name}")] = score.recall
        metrics[mlflow_key(f"{prefix}_f1/{name}")] = score.f1
    if report.sentence_accuracy is not None:
        stage = prefix.removesuffix("_entity")  # "val_entity" -> "val"
        metrics[f"{stage}_sentence_accuracy"] = report.sentence_accuracy
    return metrics
