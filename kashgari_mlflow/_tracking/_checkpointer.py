"""Checkpoint a fit to its run every N epochs, and resume a preempted fit from the newest one.

Every epoch, when checkpointing is on, the network, its optimizer and the
callback's state are written to a local folder (a ``tf.train.Checkpoint``:
quick next to an epoch); every ``every_n`` epochs that folder is uploaded to
the run. When the training stops without ending (SIGTERM, an exception), the
last completed epoch's folder is uploaded before the run is closed, whatever
``every_n`` is. At most ``keep`` checkpoints stay in the store: the newest and
the best by the monitored metric, then the newest others.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from kashgari_mlflow._tracking._checkpoint_files import (
    CheckpointState,
    Restored,
    check_compatible,
    model_digest,
    read_state,
    restore_checkpoint,
    vocabulary_digest,
    write_checkpoint,
    write_state,
)
from kashgari_mlflow._tracking._checkpoint_store import (
    CheckpointStore,
    StoredCheckpoint,
    latest_checkpoint,
    local_folder,
    to_keep,
)
from kashgari_mlflow._tracking._fit_state import FitState
from kashgari_mlflow._tracking._retries import quick_retries

_logger = logging.getLogger(__name__)


class Checkpointer:
    """The checkpoints of one fit.

    Args:
        fit: The fit being checkpointed.
        every_n: Upload every ``every_n`` epochs.
        keep: How many checkpoints stay in the store (at least 2).
        higher_is_better: Whether a higher ``monitor`` value is better.
        monitor: The metric that ranks checkpoints.
    """

    def __init__(
        self, fit: FitState, every_n: int, keep: int, higher_is_better: bool, monitor: str
    ) -> None:
        self.fit = fit
        self.every_n = every_n
        self.keep = keep
        self.higher_is_better = higher_is_better
        self.monitor = monitor
        self.store = CheckpointStore(fit.run.sender.client, fit.run.run_id)
        self.kept: list[dict[str, Any]] = []
        self._root = tempfile.mkdtemp(prefix="kashgari-mlflow-checkpoints-")
        #: The last completed epoch's checkpoint, written locally, not uploaded yet.
        self._pending: tuple[str, CheckpointState] | None = None
        fit.run.before_abort.append(self.upload_pending)

    def end_epoch(
        self, epoch: int, step: int, metrics: Mapping[str, float], tf_model: Any
    ) -> str | None:
        """Write this epoch's checkpoint; upload it when due.

        Returns:
            The checkpoint's logged model id when it was uploaded on MLflow 3 (the
            epoch's metrics are then sent linked to it), else None.
        """
        folder = local_folder(self._root, step)
        due = (epoch + 1) % self.every_n == 0
        with self.fit.run.sender.policy.guard(f"checkpoint epoch {epoch}"), quick_retries():
            state = self._state(epoch, step, metrics)
            write_checkpoint(folder, tf_model, state, self._best_weights_apart(step))
            previous, self._pending = self._pending, (folder, state)
            if previous is not None:  # only once the newer one is on disk
                shutil.rmtree(previous[0], ignore_errors=True)
            if due:
                return self._upload()
        return None

    def upload_pending(self) -> None:
        """Upload the last completed epoch's checkpoint if it is not in the store yet."""
        if self._pending is None:
            return
        with self.fit.run.sender.policy.guard("store the last checkpoint"), quick_retries():
            self._upload()

    def close(self) -> None:
        """Remove the local folders (the store keeps the checkpoints)."""
        self._pending = None
        shutil.rmtree(self._root, ignore_errors=True)

    def _upload(self) -> str | None:
        """Store the pending checkpoint, then delete those no longer kept; its model id."""
        assert self._pending is not None
        folder, state = self._pending
        model_id = self.store.begin(state.step)
        entry = {
            "step": state.step,
            "ref": model_id or self.store.artifact_path(state.step),
            "value": state.metrics.get(self.monitor),
        }
        kept, dropped = to_keep([*self.kept, entry], self.keep, self.higher_is_better)
        state.checkpoints = kept  # what a resumed fit keeps and deletes: the refs as stored
        try:
            write_state(folder, state)
            self.store.upload(state.step, folder, model_id)
        except BaseException:
            if model_id is not None:
                self.store.abandon(model_id)
            raise
        self._pending = None
        shutil.rmtree(folder, ignore_errors=True)
        self.kept = kept
        for old in dropped:
            try:
                self.store.delete(StoredCheckpoint(old["step"], old["ref"]))
            except Exception as err:  # noqa: BLE001 - an undeletable old checkpoint only costs space
                _logger.warning("Could not delete the checkpoint of step %s: %s", old["step"], err)
        return model_id

    def _state(self, epoch: int, step: int, metrics: Mapping[str, float]) -> CheckpointState:
        best = self.fit.best
        return CheckpointState(
            epoch=epoch,
            step=step,
            step_offset=step - epoch,
            metrics=dict(metrics),
            best=(
                {"step": best.step, "value": best.value, "monitor": best.monitor}
                if best is not None and best.step is not None
                else None
            ),
            history={key: list(points) for key, points in self.fit.history.points.items()},
            vocabulary=vocabulary_digest(self.fit.context.kash_model),
            model=model_digest(self.fit.context.kash_model),
            global_batch=self.fit.steps.global_batch,
        )

    def _best_weights_apart(self, step: int) -> list[Any] | None:
        best = self.fit.best
        if best is None or best.step is None or best.step == step:
            return None
        return best.weights


class Downloaded:
    """A run's newest checkpoint in a local temporary folder, checked against the model.

    Args:
        folder: The checkpoint's folder (holding ``state.json``).
        root: The temporary folder holding ``folder``, removed by :meth:`cleanup`.
    """

    def __init__(self, folder: str, root: str) -> None:
        self.folder, self.root = folder, root

    def cleanup(self) -> None:
        """Remove the local copy."""
        shutil.rmtree(self.root, ignore_errors=True)


def fetch_checkpoint(run_id: str, kash_model: Any) -> Downloaded | None:
    """Download the run's newest checkpoint and check it fits the model, before the run opens.

    Returns:
        The download, or None when the run has no checkpoint (a warning says so:
        the training starts at its first epoch).

    Raises:
        CheckpointError: If the checkpoint belongs to another model class,
            hyper-parameters, embedding or vocabularies (nothing is logged to the
            run then).
    """
    import mlflow

    client = mlflow.MlflowClient()
    with quick_retries():
        stored = latest_checkpoint(client, run_id)
    if stored is None:
        _logger.warning(
            "Run %s has no checkpoint to resume from: the training starts at its first epoch. "
            "(Checkpoints are written with MlflowCallback(checkpoint_every_n_epochs=N).)",
            run_id,
        )
        return None
    root = tempfile.mkdtemp(prefix="kashgari-mlflow-resume-")
    try:
        with quick_retries():
            folder = CheckpointStore(client, run_id).download(stored, root)
        check_compatible(read_state(folder), kash_model)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Downloaded(folder, root)


def resume_fit(
    fit: FitState, tf_model: Any, checkpointer: Checkpointer | None, download: Downloaded
) -> int:
    """Restore a downloaded checkpoint into the network and the fit.

    Weights and optimizer state go into ``tf_model``; the best epoch, the metric
    history and the kept checkpoints into the fit; metrics of the checkpoint's
    epoch that never reached the run are sent.

    Returns:
        The epoch Keras continues at.
    """
    try:
        restored = restore_checkpoint(download.folder, tf_model, fit.context.kash_model)
    finally:
        download.cleanup()
    _restore_fit(fit, restored, tf_model)
    if checkpointer is not None:
        checkpointer.kept = list(restored.state.checkpoints)
    _logger.info(
        "Resumed run %s from the checkpoint of epoch %d (step %d).",
        fit.run.run_id,
        restored.state.epoch,
        restored.state.step,
    )
    return restored.state.epoch + 1


def _restore_fit(fit: FitState, restored: Restored, tf_model: Any) -> None:
    state = restored.state
    fit.steps.offset = state.step_offset
    fit.steps.global_batch = state.global_batch
    fit.history.points = {key: list(points) for key, points in state.history.items()}
    best = state.best
    if fit.best is not None and best is not None and best["monitor"] == fit.best.monitor:
        fit.best.step, fit.best.value = int(best["step"]), float(best["value"])
        same = fit.best.step == state.step
        fit.best.weights = tf_model.get_weights() if same else restored.best_weights
    if "loss" in state.metrics:
        logged = {m.step for m in fit.run.sender.client.get_metric_history(fit.run.run_id, "loss")}
        if state.step not in logged:  # the checkpoint was stored, its metrics never sent
            fit.run.sender.queue_metrics(state.metrics, state.step)
    fit.last_step = state.step


class ResumePoint:
    """Tells Keras' ``fit`` which epoch to start at (its own BackupAndRestore hook).

    Keras 2.15's ``fit`` asks ``model._training_state`` for the first epoch right
    after ``on_train_begin``; the callback sets this object there and removes it
    at the first epoch.

    Args:
        epoch: The 0-based epoch to start at.
    """

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def maybe_load_initial_counters_from_ckpt(
        self, steps_per_epoch: int, initial_epoch: int, mode: Any = None
    ) -> tuple[int, int]:
        """``(first epoch, first step)``: the resumed epoch, from its first batch."""
        return max(self.epoch, initial_epoch), 0
