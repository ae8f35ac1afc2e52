"""When and how the validation data is scored during training (entity or class F1)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from kashgari_mlflow._discovery import FitContext
from kashgari_mlflow._entities import Scheme
from kashgari_mlflow._error_analysis import ErrorAnalysis, analysis_metrics, surface_forms
from kashgari_mlflow._evaluation import evaluate_classes, report_metrics, tag_and_score
from kashgari_mlflow._gc_pause import collector_paused
from kashgari_mlflow._metrics import EntityReport
from kashgari_mlflow._tagger import Tagger


def evaluation_due(epoch: int, every_n: int, epochs: int | None) -> bool:
    """Whether Keras' ``epoch`` (0-based) is scored: every ``every_n``-th, and always the last.

    Args:
        epoch: The epoch that just ended.
        every_n: Evaluation frequency; 0 turns evaluation off.
        epochs: The ``epochs`` of the ``fit`` (None when Keras does not say).
    """
    if every_n == 0:
        return False
    return (epoch + 1) % every_n == 0 or epoch == (epochs or 0) - 1


class Evaluator:
    """Score one Kashgari model on fixed data, every N epochs, keeping the last report.

    Args:
        kash_model: The Kashgari model being trained.
        task: ``"labeling"`` (entity scores) or ``"classification"`` (class scores).
        data: ``(x, y)`` to score on, or None (nothing is scored).
        every_n: Evaluation frequency; 0 turns it off.
        scheme: How tags form entities.
        batch_size: Sentences per forward pass.
        train_data: The training ``(x, y)``: entities whose words occur in it
            are "seen" (``val_seen_entity_f1``), the others "unseen".
    """

    def __init__(
        self,
        kash_model: Any,
        task: str,
        data: tuple[Sequence[Any], Sequence[Any]] | None,
        *,
        every_n: int = 1,
        scheme: Scheme = "default",
        batch_size: int = 64,
        train_data: tuple[Sequence[Any], Sequence[Any]] | None = None,
    ) -> None:
        self.kash_model = kash_model
        self.task = task
        self.data = data
        self.every_n = every_n
        self.scheme: Scheme = scheme
        self.batch_size = batch_size
        self.prefix = "val_entity" if task == "labeling" else "val_class"
        self.train_data = train_data
        self.last_report: EntityReport | None = None
        self.last_report_step: int | None = None
        #: The error analysis of the last scored epoch (labeling), or None.
        self.last_analysis: ErrorAnalysis | None = None
        self._tagger: Tagger | None = None

    @property
    def enabled(self) -> bool:
        """Whether any epoch is scored (there is data and ``every_n`` is not 0)."""
        return bool(self.every_n) and self.data is not None

    def metrics(self, epoch: int, step: int, epochs: int | None) -> dict[str, float]:
        """The scores of ``epoch`` as metrics when it is due, else nothing."""
        if self.data is None or not evaluation_due(epoch, self.every_n, epochs):
            return {}
        self.last_analysis = None
        report = self.evaluate()
        self.last_report, self.last_report_step = report, step
        metrics = report_metrics(report, self.prefix)
        if self.last_analysis is not None:
            metrics.update(analysis_metrics(self.last_analysis, "val"))
        return metrics

    def report_of(self, step: int) -> EntityReport | None:
        """The report of ``step``, if that epoch was scored."""
        return self.last_report if self.last_report_step == step else None

    def analysis_of(self, step: int) -> ErrorAnalysis | None:
        """The error analysis of ``step``, if that epoch was scored (labeling only)."""
        return self.last_analysis if self.last_report_step == step else None

    def evaluate(self) -> EntityReport:
        """Score the model on the data now (a labeling model: also ``last_analysis``)."""
        assert self.data is not None
        x, y = self.data
        with collector_paused(len(x)):
            if self.task == "classification":
                return evaluate_classes(self.kash_model, x, y, batch_size=self.batch_size)
            if self._tagger is None:
                # Kept for the whole fit, so the tagger's graph is traced once.
                self._tagger = Tagger.from_kashgari(self.kash_model)
            report, self.last_analysis = tag_and_score(
                self._tagger, x, y, scheme=self.scheme, batch_size=self.batch_size,
                seen_forms=self.seen_forms,
            )  # fmt: skip
        return report

    @cached_property
    def seen_forms(self) -> frozenset[str] | None:
        """Entity surface forms of the training data, found once per fit (None without it)."""
        if self.train_data is None:
            return None
        try:
            return surface_forms(*self.train_data, scheme=self.scheme)
        except (AttributeError, TypeError, ValueError):  # not token and tag lists: no split
            return None


def evaluation_data(
    eval_data: tuple[Any, Any] | None, context: FitContext
) -> tuple[Any, Any] | None:
    """What is scored: the callback's ``eval_data``, else the validation data given to ``fit``."""
    if eval_data is not None:
        return eval_data[0], eval_data[1]
    if context.valid_x is None or context.valid_y is None:
        return None
    return context.valid_x, context.valid_y
