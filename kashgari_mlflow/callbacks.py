"""``MlflowCallback``: one Keras callback that tracks a Kashgari training run in MLflow.

The hooks only say what happens when; the work is done by the collaborators
in :mod:`kashgari_mlflow._tracking`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import tensorflow as tf

from kashgari_mlflow._compat import support_gensim4
from kashgari_mlflow._discovery import find_fit_context
from kashgari_mlflow._entities import SCHEMES, Scheme
from kashgari_mlflow._tokenizer_choice import (
    already_checked,
    check_tokenizer_option,
    choose_for_fit,
)
from kashgari_mlflow._tracking._best import MODES, Mode
from kashgari_mlflow._tracking._checkpointer import (
    Checkpointer,
    ResumePoint,
    fetch_checkpoint,
    resume_fit,
)
from kashgari_mlflow._tracking._env import env_flag
from kashgari_mlflow._tracking._epoch_metrics import batch_metrics, epoch_metrics, learning_rate
from kashgari_mlflow._tracking._fit_end import log_fit_end
from kashgari_mlflow._tracking._fit_start import start_fit
from kashgari_mlflow._tracking._fit_state import FitState
from kashgari_mlflow._tracking._prefetch import (
    import_in_background,
    wait_for_background_imports,
)
from kashgari_mlflow._tracking._resume import run_to_resume
from kashgari_mlflow._tracking._retries import quick_retries
from kashgari_mlflow._tracking._workers import not_the_logging_worker

LogModel = Literal["best", "last"] | bool

_logger = logging.getLogger(__name__)


class MlflowCallback(tf.keras.callbacks.Callback):  # type: ignore[misc]
    """Track a Kashgari ``fit`` in MLflow: params, per-epoch metrics, entity F1, the model.

    Pass it to any Kashgari task model's ``fit``. With no arguments it finds the
    Kashgari model, reuses the active MLflow run (or starts one and ends it with
    the status the training earned), and logs params, version tags, every Keras
    metric and entity-level scores at ``step=epoch``, the datasets, reports and
    charts, and the trained model. Secrets from the environment become ``***``
    everywhere it writes. The full list is in the documentation's Tracking page.

    Args:
        kash_model: The Kashgari model being trained. Found automatically when omitted.
        experiment_name: Experiment for a run this callback starts (default: the
            active experiment, or ``MLFLOW_EXPERIMENT_NAME``).
        run_name: Name of a run this callback starts.
        run_id: Resume this existing run instead of starting a new one
            (``MLFLOW_RUN_ID`` works too).
        tags: Tags for the run (merged with the JSON object in ``MLFLOW_TAGS``).
        nested: Start a child run of the active run (``MLFLOW_NESTED_RUN=true`` too).
        log_model: ``"last"`` logs the final weights, ``"best"`` the weights of the
            epoch with the best ``monitor`` value, ``False`` logs no model.
        monitor: Metric that picks the best epoch; default ``val_entity_f1`` when
            entity evaluation runs, else ``val_loss``.
        mode: Whether the best ``monitor`` value is the ``"max"`` or the ``"min"``;
            ``"auto"`` picks max for names with ``f1``, ``acc``, ``auc``,
            ``precision`` or ``recall`` in them, min for the rest (``val_loss``).
        model_name: Name of the logged model inside the run.
        registered_model_name: Also register the logged model under this name.
        eval_every_n_epochs: Entity evaluation frequency; 0 turns it off.
        eval_data: ``(x, y)`` to evaluate on instead of the validation data given to ``fit``.
        scheme: How tags form entities: ``"default"``, ``"IOB2"`` or ``"IOBES"``.
        eval_batch_size: Sentences per forward pass during entity evaluation.
        tokenizer: Tokenizer saved with the model: ``"auto"`` (``"char"`` when the
            training tokens are single characters of Chinese or a similar script,
            else ``"whitespace"``; logged as the ``tokenizer`` param), ``"whitespace"``,
            ``"char"``, or a function (see :func:`kashgari_mlflow.save_model`).
        strict: Raise tracking errors instead of warning and retrying later.
        final_flush_seconds: How long the end of training waits for an unreachable
            tracking server before writing unsent metrics to a local JSON file.
        log_every_n_steps: Also log the running batch metrics every N batches.
        synchronous: ``False`` sends each epoch's metrics from a worker thread, so
            training does not wait for the tracking server; all is sent by train end.
        log_on_all_workers: In a distributed training only the chief worker logs
            (read from the ``tf.distribute`` strategy, ``TF_CONFIG``, or the rank
            variables of Horovod, MPI and torchrun); ``True`` logs from every
            worker, each to its own run. Default: ``KASHGARI_MLFLOW_LOG_ON_ALL_WORKERS``.
        checkpoint_every_n_epochs: Store a checkpoint (weights, optimizer state,
            epoch, best epoch so far) in the run every N epochs; 0 (default) stores
            none. A training stopped by SIGTERM or an error stores its last
            completed epoch first. On MLflow 3 each is a logged model at
            ``step=epoch`` with the epoch's metrics.
        keep_checkpoints: How many checkpoints stay in the run: the newest, the
            best by ``monitor``, then the newest others (at least 2).
        resume: Continue a stopped training from its newest checkpoint: the run
            ``run_id`` (or ``MLFLOW_RUN_ID``, or the active run), else the newest
            unfinished run with checkpoints of the experiment and ``run_name``.
            Weights, optimizer state, epoch count and best epoch are restored
            before the first batch; the run is set back to ``RUNNING``.

    Example:
        >>> from kashgari.tasks.labeling import BiLSTM_CRF_Model  # doctest: +SKIP
        >>> from kashgari_mlflow import MlflowCallback  # doctest: +SKIP
        >>> model = BiLSTM_CRF_Model()  # doctest: +SKIP
        >>> model.fit(x, y, x_val, y_val, callbacks=[MlflowCallback()])  # doctest: +SKIP
    """

    def __init__(
        self,
        kash_model: Any = None,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        nested: bool | None = None,
        log_model: LogModel = "best",
        monitor: str | None = None,
        mode: Mode = "auto",
        model_name: str = "model",
        registered_model_name: str | None = None,
        eval_every_n_epochs: int = 1,
        eval_data: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None,
        scheme: Scheme = "default",
        eval_batch_size: int = 64,
        log_every_n_steps: int | None = None,
        synchronous: bool = True,
        tokenizer: str | Callable[[str], Sequence[str]] = "auto",
        strict: bool = False,
        final_flush_seconds: float = 60.0,
        log_on_all_workers: bool | None = None,
        checkpoint_every_n_epochs: int = 0,
        keep_checkpoints: int = 3,
        resume: bool = False,
    ) -> None:
        super().__init__()
        support_gensim4()  # before fit builds a WordEmbedding
        _check("log_model", log_model, log_model in ("best", "last", True, False))
        _check("mode", mode, mode in MODES)
        _check("scheme", scheme, scheme in SCHEMES)
        _check("eval_every_n_epochs", eval_every_n_epochs, _at_least(eval_every_n_epochs, 0))
        _check("eval_batch_size", eval_batch_size, _at_least(eval_batch_size, 1))
        _check(
            "checkpoint_every_n_epochs",
            checkpoint_every_n_epochs,
            _at_least(checkpoint_every_n_epochs, 0),
        )
        _check("keep_checkpoints", keep_checkpoints, _at_least(keep_checkpoints, 2))
        _check("resume", resume, isinstance(resume, bool))
        _check(
            "log_every_n_steps",
            log_every_n_steps,
            log_every_n_steps is None or _at_least(log_every_n_steps, 1),
        )
        if eval_data is not None and (
            not isinstance(eval_data, tuple | list) or len(eval_data) != 2
        ):
            raise ValueError("eval_data must be a pair (x, y) of token lists and tag lists.")
        check_tokenizer_option(tokenizer)
        self.kash_model = kash_model
        self.experiment_name, self.run_name, self.run_id = experiment_name, run_name, run_id
        self.tags = dict(tags or {})
        self.nested = nested
        self.log_model = "last" if log_model is True else log_model
        self.monitor, self.mode = monitor, mode
        self.model_name, self.registered_model_name = model_name, registered_model_name
        self.eval_every_n_epochs, self.eval_data = eval_every_n_epochs, eval_data
        self.scheme: Scheme = scheme
        self.eval_batch_size = eval_batch_size
        self.log_every_n_steps = log_every_n_steps
        self.synchronous = synchronous
        self.tokenizer = tokenizer
        self.strict = strict
        self.final_flush_seconds = float(final_flush_seconds)
        self.log_on_all_workers = log_on_all_workers
        self.checkpoint_every_n_epochs = checkpoint_every_n_epochs
        self.keep_checkpoints = keep_checkpoints
        self.resume = resume
        self._reset()

    def _reset(self) -> None:
        #: Why this process logs nothing in the current ``fit`` (a non-chief worker), or None.
        self.inactive_reason: str | None = None
        self.active_run_id: str | None = None
        #: The tokenizer name this fit saves and logs (``"auto"`` decided), or None.
        self.chosen_tokenizer: str | None = None
        self.model_info: Any = None
        #: The epoch a resumed training continued at, or None.
        self.resumed_at_epoch: int | None = None
        self._fit: FitState | None = None
        self._checkpointer: Checkpointer | None = None

    @property
    def _history(self) -> dict[str, list[tuple[int, float]]]:
        return self._fit.history.points if self._fit else {}

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Find the Kashgari model, open the run, log params, tags and datasets."""
        self._reset()
        self.inactive_reason = not_the_logging_worker(self.model, self.log_on_all_workers)
        if self.inactive_reason is not None:
            _logger.info("MlflowCallback logs nothing in this process: %s.", self.inactive_reason)
            return
        context = find_fit_context(self.model, explicit=self.kash_model)
        if context is None:
            raise ValueError(
                "MlflowCallback could not find the Kashgari model that owns this Keras model; "
                "pass it explicitly: MlflowCallback(kash_model=model)."
            )
        self.chosen_tokenizer = choose_for_fit(self.tokenizer, context.kash_model, context.train_x)
        run_id, download = None, None
        if self.resume:
            nested = self.nested if self.nested is not None else env_flag("MLFLOW_NESTED_RUN")
            run_id = run_to_resume(self.run_id, self.experiment_name, self.run_name, nested)
            if run_id is not None:  # checked against the model before anything is logged
                download = fetch_checkpoint(run_id, context.kash_model)
        self._fit = fit = start_fit(self, context, self.params, self.chosen_tokenizer, run_id)
        self.active_run_id = fit.run.run_id
        if self.checkpoint_every_n_epochs:
            self._checkpointer = Checkpointer(
                fit, self.checkpoint_every_n_epochs, self.keep_checkpoints,
                fit.higher_is_better, fit.monitor,
            )  # fmt: skip
            fit.run.before_abort.append(self._checkpointer.close)
        if download is not None:
            self.resumed_at_epoch = resume_fit(fit, self.model, self._checkpointer, download)
            # Keras' fit asks this hook for its first epoch right after on_train_begin.
            self.model._training_state = ResumePoint(self.resumed_at_epoch)
            epochs = self.params.get("epochs")
            if epochs is not None and self.resumed_at_epoch >= epochs:
                _logger.warning(
                    "Run %s was checkpointed after epoch %d of %d: fit(epochs=%d) leaves no "
                    "epoch to train; pass a larger epochs to train on.",
                    fit.run.run_id, self.resumed_at_epoch, epochs, epochs,
                )  # fmt: skip

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """On the first epoch, shift steps past those an earlier ``fit`` logged in this run."""
        self._forget_resume_point()
        if self._fit is not None:
            self._fit.steps.start_epoch(epoch)

    def _implements_train_batch_hooks(self) -> bool:
        """Only ``log_every_n_steps`` needs the batch hooks.

        Keras calls batch hooks only when a callback asks for them, and then turns
        every batch's logs into numbers first, which waits for the batch to finish
        before the next one is started: a per-batch wait that a fit without batch
        hooks does not have.
        """
        return self.log_every_n_steps is not None

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """With ``log_every_n_steps``, queue the running batch metrics (sent at epoch end)."""
        if self._fit is not None:
            global_batch = self._fit.steps.count_batch(self.log_every_n_steps)
            if global_batch is not None:
                self._fit.run.sender.queue_metrics(batch_metrics(logs), global_batch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the epoch's Keras metrics and, when due, entity-level scores."""
        fit = self._fit
        if fit is None:
            return
        step = fit.steps.epoch_step(epoch)
        metrics = {**epoch_metrics(logs), **learning_rate(self.model)}
        metrics.update(fit.evaluator.metrics(epoch, step, self.params.get("epochs")))
        fit.remember_epoch(step, metrics, self.model.get_weights)
        model_id = None
        if self._checkpointer is not None:
            model_id = self._checkpointer.end_epoch(epoch, step, metrics, self.model)
        fit.run.sender.queue_metrics(metrics, step, model_id=model_id)
        if self.synchronous:
            fit.run.sender.flush()
        else:
            fit.run.sender.flush_in_background()
        import_in_background()  # the charts' matplotlib, while the later epochs run

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Log the model and reports, send anything still queued, close our run.

        Interrupted here (Ctrl-C while the model uploads, an error with
        ``strict=True``), the run ends ``KILLED`` or ``FAILED``, not ``FINISHED``,
        and no model version is registered for a model whose upload did not complete.
        """
        self._forget_resume_point()
        fit = self._fit
        if fit is None:
            return
        status = "FINISHED"
        # Whatever runs after fit (the charts, the user's own plots) imports matplotlib
        # only once the background thread has stopped importing it.
        wait_for_background_imports()
        try:
            if self._checkpointer is not None:  # the last epoch, when it was not due
                self._checkpointer.upload_pending()
            fit.queue_final_metrics()
            fit.run.sender.drain(self.final_flush_seconds)
            # already_checked: on_train_begin warned if the tokenizer does not fit the data.
            with quick_retries(), already_checked():
                self.model_info = log_fit_end(self, fit, self.model)
        except BaseException as err:
            status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
            raise
        finally:
            if self._checkpointer is not None:
                self._checkpointer.close()
            fit.run.end_training(status)

    def _forget_resume_point(self) -> None:
        """Keras read the resumed epoch; a later ``fit`` starts where it is told."""
        if isinstance(getattr(self.model, "_training_state", None), ResumePoint):
            self.model._training_state = None

    def abort(self, status: str = "FAILED") -> None:
        """Close this callback's run after a failed ``fit``: send what is queued, set ``status``.

        Args:
            status: ``"FAILED"`` or ``"KILLED"``.
        """
        if self._fit is not None:
            self._fit.run.abort(status)


#: What each checked argument must be, as the error says it.
_EXPECTED = {
    "log_model": "'best', 'last' or False",
    "mode": "'auto', 'min' or 'max'",
    "scheme": f"one of {', '.join(SCHEMES)}",
    "eval_every_n_epochs": "a whole number >= 0",
    "eval_batch_size": "a positive integer",
    "log_every_n_steps": "a positive integer or None",
    "checkpoint_every_n_epochs": "a whole number >= 0",
    "keep_checkpoints": "a whole number >= 2 (the newest, to resume from, and the best)",
    "resume": "True or False",
}


def _check(name: str, value: Any, valid: bool) -> None:
    if not valid:
        raise ValueError(f"{name} must be {_EXPECTED[name]}, got {value!r}.")


def _at_least(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and value >= minimum
