"""Entity-level precision, recall and F1 (micro, macro, weighted, per type).

Token accuracy flatters NER models because most tokens are ``O``; these
scores count whole entities, as conlleval and seqeval do: an entity is right
only if its type, first and last token all match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kashgari_mlflow._entities import Scheme, Span, extract_spans


@dataclass(frozen=True)
class TypeScore:
    """Precision, recall and F1 of one entity type (or an average)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EntityReport:
    """Entity-level scores of a set of predictions against gold tags.

    Attributes:
        micro: Scores over all entities pooled; the headline number.
        macro: Unweighted mean over the entity types.
        weighted: Mean over entity types weighted by their gold support.
        per_type: Scores for each entity type, sorted by type name.
        sentence_accuracy: Share of sentences whose every tag is right (labeling
            only; ``None`` for classification).
    """

    micro: TypeScore
    macro: TypeScore
    weighted: TypeScore
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    sentence_accuracy: float | None = None

    def to_dict(self) -> dict[str, dict[str, float]]:
        """The report as plain nested dicts, ready for JSON."""
        rows = {"micro": self.micro, "macro": self.macro, "weighted": self.weighted}
        rows.update(self.per_type)
        return {name: vars(score).copy() for name, score in rows.items()}

    def to_text(self, digits: int = 4) -> str:
        """The report as an aligned text table like seqeval's ``classification_report``."""
        names = [*self.per_type, "micro avg", "macro avg", "weighted avg"]
        width = max([len(name) for name in names] + [12])
        header = f"{'':>{width}}  {'precision':>9}  {'recall':>9}  {'f1-score':>9}  {'support':>9}"
        lines = [header, ""]

        def row(name: str, score: TypeScore) -> str:
            return (
                f"{name:>{width}}  {score.precision:>9.{digits}f}  {score.recall:>9.{digits}f}"
                f"  {score.f1:>9.{digits}f}  {score.support:>9d}"
            )

        lines += [row(name, score) for name, score in self.per_type.items()]
        lines.append("")
        lines += [
            row("micro avg", self.micro),
            row("macro avg", self.macro),
            row("weighted avg", self.weighted),
        ]
        return "\n".join(lines) + "\n"


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _score(true_positives: int, predicted: int, support: int) -> TypeScore:
    precision = _ratio(true_positives, predicted)
    recall = _ratio(true_positives, support)
    return TypeScore(precision, recall, _ratio(2 * precision * recall, precision + recall), support)


def entity_report(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    scheme: Scheme = "default",
) -> EntityReport:
    """Score predicted tag sequences against gold ones, entity by entity.

    Args:
        y_true: Gold tags, one sequence per sentence.
        y_pred: Predicted tags, aligned with ``y_true`` token for token.
        scheme: How tags form entities; see :func:`kashgari_mlflow._entities.extract_spans`.

    Returns:
        The micro, macro, weighted and per-type scores, and the sentence accuracy.

    Raises:
        ValueError: If the two lists, or any pair of sentences, differ in length.
    """
    gold, predicted, exact = sentence_spans(y_true, y_pred, scheme)
    return report_from_spans(gold, predicted, exact)


def sentence_spans(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], scheme: Scheme = "default"
) -> tuple[list[list[Span]], list[list[Span]], int]:
    """The gold and predicted entities of each sentence, and how many sentences are all right.

    Raises:
        ValueError: If the two lists, or any pair of sentences, differ in length.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} sentences but y_pred has {len(y_pred)}: "
            "pass one predicted tag sequence per gold sequence."
        )
    gold: list[list[Span]] = []
    predicted: list[list[Span]] = []
    exact_sentences = 0
    for index, (true_tags, pred_tags) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(true_tags) != len(pred_tags):
            raise ValueError(
                f"Sentence {index} has {len(true_tags)} gold tags but {len(pred_tags)} "
                "predicted tags: predictions must cover every token."
            )
        exact_sentences += list(true_tags) == list(pred_tags)
        gold.append(extract_spans(true_tags, scheme))
        predicted.append(extract_spans(pred_tags, scheme))
    return gold, predicted, exact_sentences


def report_from_spans(
    gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]], exact_sentences: int
) -> EntityReport:
    """The :func:`entity_report` of entities already found by :func:`sentence_spans`."""
    gold_set = {(index, span) for index, spans in enumerate(gold) for span in spans}
    predicted_set = {(index, span) for index, spans in enumerate(predicted) for span in spans}
    support = Counter(span.type for _, span in gold_set)
    predicted_count = Counter(span.type for _, span in predicted_set)
    hits = Counter(span.type for _, span in gold_set & predicted_set)
    report = _aggregate(support, predicted_count, hits)
    return replace(report, sentence_accuracy=_ratio(exact_sentences, len(gold)))


def _aggregate(
    support: Counter[str], predicted_count: Counter[str], hits: Counter[str]
) -> EntityReport:
    types = sorted(set(support) | set(predicted_count))
    per_type = {t: _score(hits[t], predicted_count[t], support[t]) for t in types}

    micro = _score(sum(hits.values()), sum(predicted_count.values()), sum(support.values()))
    total = sum(support.values())
    scores = list(per_type.values())

    def mean(attr: str, weights: list[float]) -> float:
        return _ratio(
            sum(getattr(s, attr) * w for s, w in zip(scores, weights, strict=True)), sum(weights)
        )

    ones = [1.0] * len(scores)
    by_support = [float(s.support) for s in scores]
    macro = TypeScore(mean("precision", ones), mean("recall", ones), mean("f1", ones), total)
    weighted = TypeScore(
        mean("precision", by_support), mean("recall", by_support), mean("f1", by_support), total
    )
    return EntityReport(micro=micro, macro=macro, weighted=weighted, per_type=per_type)


def label_report(y_true: Sequence[Any], y_pred: Sequence[Any]) -> EntityReport:
    """Per-class precision, recall and F1 of a text classifier.

    Each sample's gold and predicted labels may be one label or, for a
    multi-label model, a list of labels; a sample contributes one decision per
    label. For single-label data the micro scores all equal accuracy.

    Raises:
        ValueError: If the two lists differ in length.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true has {len(y_true)} samples but y_pred has {len(y_pred)}: pass one "
            "prediction per sample."
        )

    def as_set(labels: Any) -> set[str]:
        if isinstance(labels, list | tuple | set):
            return {str(label) for label in labels}
        return {str(labels)}

    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for gold, pred in zip(y_true, y_pred, strict=True):
        gold_set, pred_set = as_set(gold), as_set(pred)
        support.update(gold_set)
        predicted.update(pred_set)
        hits.update(gold_set & pred_set)
    return _aggregate(support, predicted, hits)
