"""The best epoch by the monitored metric, whose weights ``log_model="best"`` logs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from kashgari_mlflow._metrics import EntityReport

Mode = Literal["auto", "min", "max"]
MODES: tuple[Mode, ...] = ("auto", "min", "max")

#: With ``mode="auto"``, a metric whose name contains one of these is better when higher
#: (ours: ``val_entity_f1``...; Keras': ``accuracy``, ``auc``, ``precision``, ``recall``...).
#: Anything else (``loss``, ``val_loss``, ``mae``) is better when lower.
_HIGHER_IS_BETTER = ("f1", "acc", "auc", "precision", "recall")


def higher_is_better(name: str, mode: Mode = "auto") -> bool:
    """Whether a higher value of metric ``name`` is better under ``mode``."""
    if mode != "auto":
        return mode == "max"
    return any(word in name.lower() for word in _HIGHER_IS_BETTER)


def default_monitor(task: str, evaluates: bool, has_validation: bool) -> str:
    """The metric that picks the best epoch when the user names none.

    Args:
        task: ``"labeling"`` or ``"classification"``.
        evaluates: Whether entity/class evaluation runs.
        has_validation: Whether there is validation (or evaluation) data.
    """
    if evaluates:
        return "val_entity_f1" if task == "labeling" else "val_class_f1"
    return "val_loss" if has_validation else "loss"


class BestEpoch:
    """Remember the epoch with the best ``monitor`` value, its weights and its report.

    Args:
        monitor: The metric to compare.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (from the name, see :func:`higher_is_better`).
    """

    def __init__(self, monitor: str, mode: Mode = "auto") -> None:
        self.monitor = monitor
        self.higher = higher_is_better(monitor, mode)
        self.value: float | None = None
        self.step: int | None = None
        self.weights: list[Any] | None = None
        self.report: EntityReport | None = None

    def update(
        self,
        step: int,
        metrics: Mapping[str, float],
        weights: Callable[[], list[Any]],
        report: EntityReport | None = None,
    ) -> bool:
        """Keep this epoch if its value beats the best so far (a tie keeps the earlier one).

        Args:
            step: The epoch's step.
            metrics: The epoch's metrics; without ``monitor`` among them nothing changes.
            weights: Reads the model's weights (called only for a new best).
            report: The epoch's evaluation report, if any.

        Returns:
            Whether this epoch is the new best.
        """
        value = metrics.get(self.monitor)
        if value is None:
            return False
        if self.value is not None and not (
            value > self.value if self.higher else value < self.value
        ):
            return False
        self.value, self.step = value, step
        self.weights = weights()
        self.report = report
        return True

    def metrics(self) -> dict[str, float]:
        """``best_epoch`` and ``best_<monitor>`` (empty before any epoch had the metric)."""
        if self.step is None:
            return {}
        return {"best_epoch": self.step, f"best_{self.monitor}": self.value or 0.0}
