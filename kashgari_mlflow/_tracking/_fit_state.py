"""One ``fit``'s collaborators and what the fit has seen so far (replaced at every fit)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kashgari_mlflow._discovery import FitContext
from kashgari_mlflow._error_analysis import ErrorAnalysis
from kashgari_mlflow._metrics import EntityReport
from kashgari_mlflow._tracking._artifacts import MetricHistory
from kashgari_mlflow._tracking._best import BestEpoch
from kashgari_mlflow._tracking._early_stopping import (
    early_stopping_metrics,
    find_early_stopping,
    restored_epoch,
)
from kashgari_mlflow._tracking._evaluator import Evaluator
from kashgari_mlflow._tracking._runs import TrackedRun
from kashgari_mlflow._tracking._steps import StepCounter


@dataclass
class FitState:
    """The run, evaluation, best epoch and step count of one ``fit``.

    Attributes:
        run: The run the fit writes to.
        context: What the ``fit`` was given.
        evaluator: Scores the validation data.
        best: The best epoch so far; None unless the best epoch's weights are logged.
        steps: Epoch and batch steps.
        history: Every metric by step (for the learning curves).
        last_step: The step of the last epoch that ended.
        best_analysis: The error analysis of the best epoch, and its step.
        monitor: The metric that picks the best epoch and ranks checkpoints.
        higher_is_better: Whether a higher ``monitor`` value is better.
    """

    run: TrackedRun
    context: FitContext
    evaluator: Evaluator
    best: BestEpoch | None
    steps: StepCounter
    history: MetricHistory = field(default_factory=MetricHistory)
    last_step: int | None = None
    best_analysis: tuple[int, ErrorAnalysis] | None = None
    monitor: str = "val_loss"
    higher_is_better: bool = False

    def remember_epoch(
        self, step: int, metrics: Mapping[str, float], weights: Callable[[], list[Any]]
    ) -> None:
        """Update the best epoch and the history with the epoch that ended."""
        report = self.evaluator.report_of(step)
        if self.best is not None and self.best.update(step, metrics, weights, report):
            analysis = self.evaluator.analysis_of(step)
            self.best_analysis = (step, analysis) if analysis is not None else None
        self.last_step = step
        self.history.record(metrics, step)

    def queue_final_metrics(self) -> None:
        """Queue ``best_epoch``, ``best_<monitor>`` and EarlyStopping's result metrics."""
        if self.best is not None and self.best.step is not None:
            self.run.sender.queue_metrics(self.best.metrics(), self.best.step)
        stopper = find_early_stopping(self.context.callbacks)
        stopped = early_stopping_metrics(stopper, self.steps.offset or 0)
        self.run.sender.queue_metrics(stopped, self.last_step or 0)

    def logged_report(self) -> EntityReport | None:
        """The evaluation report of the epoch whose weights are logged."""
        if self.best is not None and self.best.report is not None:
            return self.best.report
        return self.evaluator.last_report

    def logged_analysis(self) -> tuple[int, ErrorAnalysis] | None:
        """``(step, error analysis)`` of the epoch whose weights are logged, if it was scored."""
        if self.best is not None and self.best.report is not None:
            return self.best_analysis
        step, analysis = self.evaluator.last_report_step, self.evaluator.last_analysis
        return (step, analysis) if step is not None and analysis is not None else None

    def logged_step(self) -> int | None:
        """The step of the epoch whose weights are logged (None before any epoch ended)."""
        if self.best is not None and self.best.step is not None:
            return self.best.step
        return self.network_step()

    def logged_weights(self) -> list[Any] | None:
        """The best epoch's weights when they are not the network's current ones, else None."""
        if self.best is None or self.best.step is None or self.best.step == self.network_step():
            return None
        return self.best.weights

    def network_step(self) -> int | None:
        """The step of the epoch whose weights the network holds now.

        The last epoch's, unless Keras' ``EarlyStopping(restore_best_weights=True)``
        stopped the fit and put back the weights of its own best epoch.
        """
        restored = restored_epoch(find_early_stopping(self.context.callbacks))
        return self.steps.epoch_step(restored) if restored is not None else self.last_step
