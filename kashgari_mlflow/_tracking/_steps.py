"""Which step an epoch or batch is logged at, so a second ``fit`` in one run continues.

MLflow plots a metric by step; a second ``fit`` that logged from step 0 again
would draw over the first. Steps continue after the last ``loss`` the run has.
"""

from __future__ import annotations

from typing import Any

from kashgari_mlflow._tracking._retries import quick_retries


def first_free_step(client: Any, run_id: str) -> int:
    """The step after the last epoch an earlier ``fit`` logged in this run (0 for a fresh run)."""
    try:
        with quick_retries():
            history = client.get_metric_history(run_id, "loss")
    except Exception:  # noqa: BLE001 - a failed look-up means a fresh count
        return 0
    return max((metric.step for metric in history), default=-1) + 1


class StepCounter:
    """Epoch and batch steps of one ``fit``.

    Args:
        first_free: The first step no earlier ``fit`` used (see :func:`first_free_step`).
    """

    def __init__(self, first_free: int = 0) -> None:
        self.first_free = first_free
        self.offset: int | None = None
        self.global_batch = 0

    def start_epoch(self, epoch: int) -> None:
        """At the first epoch of the ``fit``, fix the offset that closes the gap."""
        if self.offset is None:
            # With Keras' initial_epoch the count already continues; only close a gap.
            self.offset = max(0, self.first_free - epoch)

    def epoch_step(self, epoch: int) -> int:
        """The step Keras' ``epoch`` (0-based) is logged at."""
        return epoch + (self.offset or 0)

    def count_batch(self, every_n: int | None) -> int | None:
        """Count one batch; its global number when batch metrics are due (every ``every_n``)."""
        self.global_batch += 1
        if not every_n or self.global_batch % every_n:
            return None
        return self.global_batch
