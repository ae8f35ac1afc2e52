"""``MlflowCallback``: one Keras callback that tracks a Kashgari training run in MLflow."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from kashgari_mlflow._compat import support_gensim4, task_of, use_sqlite_store_by_default
from kashgari_mlflow._discovery import FitContext, find_fit_context
from kashgari_mlflow._distributed import LOG_ON_ALL_WORKERS_ENV, worker_role
from kashgari_mlflow._entities import SCHEMES, Scheme
from kashgari_mlflow._evaluation import evaluate_classes, evaluate_entities, report_metrics
from kashgari_mlflow._metrics import EntityReport
from kashgari_mlflow._params import model_params, version_tags
from kashgari_mlflow._redaction import Redactor, redacted_context_tags
from kashgari_mlflow._run_logger import RunLogger, TrackingWarning, quick_retries
from kashgari_mlflow._tagger import Tagger

LogModel = Literal["best", "last"] | bool

_TRUE = ("1", "true", "yes", "on")

_logger = logging.getLogger(__name__)

#: Runs a callback started whose training has not ended, by run id. A fit that
#: raises never reaches ``on_train_end``; these runs are closed as FAILED/KILLED
#: by :func:`abort_open_runs` (autolog, an uncaught exception) or when the next
#: training finds one still active.
_OPEN_RUNS: dict[str, MlflowCallback] = {}
_previous_excepthook: Any = None


def abort_open_runs(status: str = "FAILED") -> None:
    """End every run a callback started whose training did not finish."""
    for callback in list(_OPEN_RUNS.values()):
        callback.abort(status)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    abort_open_runs("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")
    (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)


def _install_excepthook() -> None:
    global _previous_excepthook
    if sys.excepthook is not _excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook


class MlflowCallback(tf.keras.callbacks.Callback):  # type: ignore[misc]
    """Track a Kashgari ``fit`` in MLflow: params, per-epoch metrics, entity F1, the model.

    Pass it to any Kashgari task model's ``fit``; with no arguments it finds
    the Kashgari model, reuses the active MLflow run (or starts one and ends
    it), and logs:

    * params: model class, flattened ``hyper_parameters``, embedding class and
      settings, sequence length, vocabulary and label counts, optimizer and
      learning rate, epochs, batch size, train/validation sizes;
    * tags: Kashgari, TensorFlow and MLflow versions;
    * every Keras epoch metric (``loss``, ``accuracy``, ``val_*``) at ``step=epoch``;
    * entity-level precision/recall/F1 on the validation data passed to ``fit``
      (``val_entity_f1``, macro, weighted, per type), at ``step=epoch``;
    * at the end, the trained model as an MLflow model named ``model``, with a
      classification report and the label list as artifacts.

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
        model_name: Name of the logged model inside the run.
        registered_model_name: Also register the logged model under this name.
        eval_every_n_epochs: Entity evaluation frequency; 0 turns it off.
        eval_data: ``(x, y)`` to evaluate on instead of the validation data given to ``fit``.
        scheme: How tags form entities: ``"default"``, ``"IOB2"`` or ``"IOBES"``.
        eval_batch_size: Sentences per forward pass during entity evaluation.
        tokenizer: Tokenizer saved with the model: ``"whitespace"``, ``"char"``, or
            a function (see :func:`kashgari_mlflow.save_model`).
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

    Secrets never reach the run: the value of any environment variable whose
    name looks like a credential (``*_TOKEN``, ``*PASSWORD*``, ``*SECRET*``,
    ``*_KEY``...) is replaced by ``***`` in params, tags, the run name, dataset
    profiles and the text artifacts, as is any value under a credential-like
    tag or param key; a warning names the keys, never the values.

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
        model_name: str = "model",
        registered_model_name: str | None = None,
        eval_every_n_epochs: int = 1,
        eval_data: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None,
        scheme: Scheme = "default",
        eval_batch_size: int = 64,
        log_every_n_steps: int | None = None,
        synchronous: bool = True,
        tokenizer: str | Callable[[str], Sequence[str]] = "whitespace",
        strict: bool = False,
        final_flush_seconds: float = 60.0,
        log_on_all_workers: bool | None = None,
    ) -> None:
        super().__init__()
        support_gensim4()  # before fit builds a WordEmbedding
        if log_model not in ("best", "last", True, False):
            raise ValueError(f"log_model must be 'best', 'last' or False, got {log_model!r}.")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}.")
        if not isinstance(eval_every_n_epochs, int) or eval_every_n_epochs < 0:
            raise ValueError(
                f"eval_every_n_epochs must be a whole number >= 0, got {eval_every_n_epochs!r}."
            )
        if eval_data is not None and (
            not isinstance(eval_data, tuple | list) or len(eval_data) != 2
        ):
            raise ValueError("eval_data must be a pair (x, y) of token lists and tag lists.")
        if log_every_n_steps is not None and (
            not isinstance(log_every_n_steps, int) or log_every_n_steps < 1
        ):
            raise ValueError(
                f"log_every_n_steps must be a positive integer or None, got {log_every_n_steps!r}."
            )
        if not isinstance(eval_batch_size, int) or eval_batch_size < 1:
            raise ValueError(
                f"eval_batch_size must be a positive integer, got {eval_batch_size!r}."
            )
        self.kash_model = kash_model
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.run_id = run_id
        self.tags = dict(tags or {})
        self.nested = nested
        self.log_model = "last" if log_model is True else log_model
        self.monitor = monitor
        self.model_name = model_name
        self.registered_model_name = registered_model_name
        self.eval_every_n_epochs = eval_every_n_epochs
        self.eval_data = eval_data
        self.scheme: Scheme = scheme
        self.eval_batch_size = eval_batch_size
        self.log_every_n_steps = log_every_n_steps
        self.synchronous = synchronous
        self.tokenizer = tokenizer
        self.strict = strict
        self.final_flush_seconds = float(final_flush_seconds)
        self.log_on_all_workers = log_on_all_workers
        self._reset()

    def _reset(self) -> None:
        #: Why this process logs nothing in the current ``fit`` (a non-chief worker), or None.
        self.inactive_reason: str | None = None
        self.context: FitContext | None = None
        self.task = "labeling"
        self.active_run_id: str | None = None
        self._owns_run = False
        self._logger: RunLogger | None = None
        self._step_offset: int | None = None
        self._next_step = 0
        self._global_batch = 0
        self._history: dict[str, list[tuple[int, float]]] = {}
        self._tagger: Tagger | None = None
        self._last_report: EntityReport | None = None
        self._last_report_epoch: int | None = None
        self._best_value: float | None = None
        self._best_epoch: int | None = None
        self._best_weights: list[Any] | None = None
        self._best_report: EntityReport | None = None
        self._last_epoch: int | None = None
        self.model_info: Any = None

    # ----------------------------------------------------------------- lifecycle
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Find the Kashgari model, open the run, log params and tags."""
        import mlflow

        self._reset()
        self.inactive_reason = self._not_the_logging_worker()
        if self.inactive_reason is not None:
            _logger.info("MlflowCallback logs nothing in this process: %s.", self.inactive_reason)
            return
        self.context = find_fit_context(self.model, explicit=self.kash_model)
        if self.context is None:
            raise ValueError(
                "MlflowCallback could not find the Kashgari model that owns this Keras model; "
                "pass it explicitly: MlflowCallback(kash_model=model)."
            )
        self.task = task_of(self.context.kash_model)
        run = self._open_run()
        self.active_run_id = run.info.run_id
        if self._owns_run:
            _OPEN_RUNS[self.active_run_id] = self
            _install_excepthook()
        self._logger = RunLogger(mlflow.MlflowClient(), self.active_run_id, strict=self.strict)
        self._logger.queue_params(self._params())
        self._logger.queue_tags({**version_tags(), "kashgari_mlflow.task": self.task})
        self._next_step = self._next_free_step()
        self._logger.flush()
        self._log_datasets()

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """On the first epoch, shift steps past those an earlier ``fit`` logged in this run."""
        if self.inactive_reason is None and self._step_offset is None:
            # With Keras' initial_epoch the count already continues; only close a gap.
            self._step_offset = max(0, self._next_step - epoch)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """With ``log_every_n_steps``, queue the running batch metrics (sent at epoch end)."""
        if self.inactive_reason is not None:
            return
        self._global_batch += 1
        if not self.log_every_n_steps or self._global_batch % self.log_every_n_steps:
            return
        assert self._logger is not None
        metrics = {
            f"train_step/{key}": float(value)
            for key, value in (logs or {}).items()
            if _is_number(value) and key not in ("batch", "size")
        }
        self._logger.queue_metrics(metrics, self._global_batch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the epoch's Keras metrics and, when due, entity-level scores."""
        if self.inactive_reason is not None:
            return
        logs = dict(logs or {})
        assert self._logger is not None
        step = epoch + (self._step_offset or 0)
        metrics = {key: float(value) for key, value in logs.items() if _is_number(value)}
        metrics.update(self._learning_rate())
        if self._entity_eval_due(epoch):
            report = self._evaluate()
            if report is not None:
                self._last_report, self._last_report_epoch = report, step
                prefix = "val_entity" if self.task == "labeling" else "val_class"
                metrics.update(report_metrics(report, prefix))
        self._track_best(epoch, step, metrics)
        self._last_epoch = step
        for key, value in metrics.items():
            self._history.setdefault(key, []).append((step, value))
        self._logger.queue_metrics(metrics, step)
        if self.synchronous:
            self._logger.flush()
        else:
            self._logger.flush_in_background()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Log the model and reports, send anything still queued, close our run.

        Interrupted here (Ctrl-C while the model uploads, an error with
        ``strict=True``), the run ends ``KILLED`` or ``FAILED``, not ``FINISHED``,
        and no model version is registered for a model whose upload did not complete.
        """
        if self.inactive_reason is not None:
            return
        assert self._logger is not None and self.context is not None
        status = "FINISHED"
        try:
            self._log_best_epoch()
            self._log_early_stopping_result()
            self._send_or_keep_queue()
            with quick_retries():
                self._log_reports()
                if self.log_model:
                    self._log_trained_model()
        except BaseException as err:
            status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
            raise
        finally:
            self._finish_run(status)

    # ------------------------------------------------------------------- helpers
    def _not_the_logging_worker(self) -> str | None:
        """Why this process must not log (a non-chief worker), or None."""
        log_everywhere = (
            self.log_on_all_workers
            if self.log_on_all_workers is not None
            else _env_flag(LOG_ON_ALL_WORKERS_ENV)
        )
        if log_everywhere:
            return None
        role = worker_role(strategy=getattr(self.model, "distribute_strategy", None))
        if role.is_chief:
            return None
        return (
            f"{role.description} is not the chief worker of this distributed training and "
            f"only the chief logs (log_on_all_workers=True or {LOG_ON_ALL_WORKERS_ENV}=true "
            "logs from every worker)"
        )

    def _open_run(self) -> Any:
        import mlflow

        redactor = Redactor()
        tags = redactor.mapping({**_env_tags(), **self.tags}, "tags")
        nested = self.nested if self.nested is not None else _env_flag("MLFLOW_NESTED_RUN")
        active = mlflow.active_run()
        if active is not None and active.info.run_id in _OPEN_RUNS:
            # An earlier fit started this run and raised before it ended.
            _OPEN_RUNS[active.info.run_id].abort("FAILED")
            active = mlflow.active_run()
        run_id = self.run_id
        if active is None:
            use_sqlite_store_by_default()
        if active is not None and not nested and run_id in (None, active.info.run_id):
            if tags:
                mlflow.MlflowClient().log_batch(
                    active.info.run_id,
                    tags=[mlflow.entities.RunTag(k, v) for k, v in tags.items()],
                )
            return active
        experiment_id = None
        if self.experiment_name and run_id is None:
            experiment_id = _experiment_id(self.experiment_name)
        run_name = None
        if run_id is None:
            run_name = redactor.scrub(self.run_name, "the run name") if self.run_name else None
            tags = {**redacted_context_tags(redactor, tags), **tags}
        run = mlflow.start_run(
            run_id=run_id,
            experiment_id=experiment_id,
            run_name=run_name,
            nested=nested or active is not None,
            tags=tags or None,
        )
        self._owns_run = True
        return run

    def _params(self) -> dict[str, Any]:
        assert self.context is not None
        params = model_params(self.context.kash_model)
        params["epochs"] = self.params.get("epochs")
        params["steps_per_epoch"] = self.params.get("steps")
        params["batch_size"] = self.context.batch_size
        if self.context.train_x is not None:
            params["train_sentences"] = len(self.context.train_x)
        if self.context.valid_x is not None:
            params["validation_sentences"] = len(self.context.valid_x)
        params["entity_eval.scheme"] = self.scheme
        params["entity_eval.every_n_epochs"] = self.eval_every_n_epochs
        params["log_model"] = self.log_model
        params.update(self._early_stopping_params())
        return {key: value for key, value in params.items() if value is not None}

    def _next_free_step(self) -> int:
        """Continue the step count when a run already has epochs from an earlier ``fit``."""
        assert self._logger is not None
        try:
            with quick_retries():
                history = self._logger.client.get_metric_history(self.active_run_id, "loss")
        except Exception:  # noqa: BLE001 - a failed look-up means a fresh count
            return 0
        return max((metric.step for metric in history), default=-1) + 1

    def _learning_rate(self) -> dict[str, float]:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return {}
        try:
            learning_rate = optimizer.learning_rate
            if callable(learning_rate) and not isinstance(learning_rate, tf.Variable):
                learning_rate = learning_rate(optimizer.iterations)
            return {"learning_rate": float(tf.keras.backend.get_value(learning_rate))}
        except (AttributeError, TypeError, ValueError):
            return {}

    def _evaluation_data(self) -> tuple[Any, Any] | None:
        if self.eval_data is not None:
            return self.eval_data[0], self.eval_data[1]
        assert self.context is not None
        if self.context.valid_x is None or self.context.valid_y is None:
            return None
        return self.context.valid_x, self.context.valid_y

    def _entity_eval_due(self, epoch: int) -> bool:
        if self.eval_every_n_epochs == 0 or self._evaluation_data() is None:
            return False
        last = (self.params.get("epochs") or 0) - 1
        return (epoch + 1) % self.eval_every_n_epochs == 0 or epoch == last

    def _evaluate(self) -> EntityReport | None:
        data = self._evaluation_data()
        assert data is not None and self.context is not None
        if self.task == "classification":
            return evaluate_classes(
                self.context.kash_model, data[0], data[1], batch_size=self.eval_batch_size
            )
        if self._tagger is None:
            self._tagger = Tagger.from_kashgari(self.context.kash_model)
        return evaluate_entities(
            self.context.kash_model,
            data[0],
            data[1],
            scheme=self.scheme,
            batch_size=self.eval_batch_size,
            tagger=self._tagger,
        )

    def _monitor(self) -> tuple[str, bool]:
        """Metric that picks the best epoch, and whether higher is better."""
        if self.monitor:
            name = self.monitor
        elif self.eval_every_n_epochs and self._evaluation_data():
            name = "val_entity_f1" if self.task == "labeling" else "val_class_f1"
        elif self._evaluation_data() is not None:
            name = "val_loss"
        else:
            name = "loss"
        higher_is_better = any(word in name for word in ("f1", "acc", "precision", "recall"))
        return name, higher_is_better

    def _track_best(self, epoch: int, step: int, metrics: Mapping[str, float]) -> None:
        if self.log_model != "best":
            return
        name, higher = self._monitor()
        value = metrics.get(name)
        if value is None:
            return
        better = self._best_value is None or (
            value > self._best_value if higher else value < self._best_value
        )
        if better:
            self._best_value, self._best_epoch = value, step
            self._best_weights = self.model.get_weights()
            self._best_report = self._last_report if self._last_report_epoch == step else None

    def _send_or_keep_queue(self) -> None:
        """Wait up to ``final_flush_seconds`` for the server; else save the queue to a file."""
        assert self._logger is not None
        self._logger.wait_for_background()
        if self._logger.flush_until(self.final_flush_seconds):
            return
        path = self._logger.dump_pending()
        warnings.warn(
            f"The tracking server did not take the last metrics/params of run "
            f"{self.active_run_id} within {self.final_flush_seconds:g} s; they were saved "
            f"to {path}.",
            TrackingWarning,
            stacklevel=3,
        )

    def _log_best_epoch(self) -> None:
        if self.log_model != "best" or self._best_epoch is None:
            return
        assert self._logger is not None
        name, _ = self._monitor()
        self._logger.queue_metrics(
            {"best_epoch": self._best_epoch, f"best_{name}": self._best_value or 0.0},
            self._best_epoch,
        )

    def _logged_report(self) -> EntityReport | None:
        """The entity report of the epoch whose weights are logged."""
        if self.log_model == "best" and self._best_report is not None:
            return self._best_report
        return self._last_report

    def _log_reports(self) -> None:
        """Reports, label list, config, model summary and charts, as run artifacts (redacted)."""
        assert self._logger is not None and self.context is not None
        kash_model = self.context.kash_model
        report = self._logged_report()
        client, run_id = self._logger.client, self.active_run_id
        redactor = Redactor()

        def log_dict(content: Any, path: str) -> None:
            client.log_dict(run_id, redactor.scrub(content, f"artifact {path}"), path)

        def log_text(content: str, path: str) -> None:
            client.log_text(run_id, redactor.scrub(content, f"artifact {path}"), path)

        try:
            labels = model_params(kash_model).get("labels", [])
            log_dict({"labels": labels}, "kashgari/labels.json")
            log_dict(_model_config(kash_model), "kashgari/model_config.json")
            log_text(_model_summary(self.model), "kashgari/model_summary.txt")
            if report is not None:
                folder = "entity_report" if self.task == "labeling" else "class_report"
                log_text(report.to_text(), f"{folder}/report.txt")
                log_dict(report.to_dict(), f"{folder}/report.json")
            self._log_charts(report, redactor)
        except Exception as err:
            if self.strict:
                raise
            warnings.warn(f"Could not log the run's reports: {err}", TrackingWarning, stacklevel=2)

    def _log_charts(self, report: EntityReport | None, redactor: Redactor) -> None:
        assert self._logger is not None
        try:
            from kashgari_mlflow._plots import f1_by_type, learning_curves
        except ImportError:  # matplotlib is optional for charts
            return
        with tempfile.TemporaryDirectory() as folder:
            curves = os.path.join(folder, "learning_curves.png")
            if learning_curves(self._history, curves):
                self._logger.client.log_artifact(self.active_run_id, curves, "plots")
            if report is not None:
                kind = "entity" if self.task == "labeling" else "class"
                bars = os.path.join(folder, f"{kind}_f1_by_type.png")
                scores = {redactor.text(name): score.f1 for name, score in report.per_type.items()}
                if f1_by_type(scores, bars, f"{kind.capitalize()} F1 by type (validation)"):
                    self._logger.client.log_artifact(self.active_run_id, bars, "plots")

    def _log_datasets(self) -> None:
        """Record the training and evaluation corpora with ``mlflow.log_input``."""
        from kashgari_mlflow._datasets import log_datasets, make_dataset

        assert self._logger is not None and self.context is not None
        datasets = []
        if self.context.train_x is not None:
            datasets.append(
                (make_dataset(self.context.train_x, self.context.train_y, "train"), "training")
            )
        evaluation = self._evaluation_data()
        if evaluation is not None:
            name = "eval_data" if self.eval_data is not None else "validation"
            datasets.append((make_dataset(evaluation[0], evaluation[1], name), "validation"))
        if not datasets:
            return
        try:
            with quick_retries():
                log_datasets(self._logger.client, str(self.active_run_id), datasets)
        except Exception as err:
            if self.strict:
                raise
            warnings.warn(f"Could not log the datasets: {err}", TrackingWarning, stacklevel=2)

    def _early_stopping(self) -> Any:
        assert self.context is not None
        for callback in self.context.callbacks:
            if isinstance(callback, tf.keras.callbacks.EarlyStopping):
                return callback
        return None

    def _early_stopping_params(self) -> dict[str, Any]:
        stopper = self._early_stopping()
        if stopper is None:
            return {}
        return {
            "early_stopping.monitor": stopper.monitor,
            "early_stopping.patience": stopper.patience,
            "early_stopping.min_delta": abs(stopper.min_delta),
            "early_stopping.mode": "max" if stopper.monitor_op is np.greater else "min",
            "early_stopping.restore_best_weights": stopper.restore_best_weights,
            "early_stopping.baseline": stopper.baseline,
        }

    def _log_early_stopping_result(self) -> None:
        stopper = self._early_stopping()
        if stopper is None or self._logger is None:
            return
        offset = self._step_offset or 0
        metrics: dict[str, float] = {}
        if stopper.stopped_epoch:
            metrics["stopped_epoch"] = stopper.stopped_epoch + offset
        best_epoch = getattr(stopper, "best_epoch", None)
        if stopper.restore_best_weights and stopper.stopped_epoch and best_epoch is not None:
            metrics["restored_epoch"] = best_epoch + offset
        if metrics:
            self._logger.queue_metrics(metrics, self._last_epoch or 0)

    def _log_trained_model(self) -> None:
        from kashgari_mlflow.flavor import log_model

        assert self.context is not None
        kash_model = self.context.kash_model
        restore = None
        if (
            self.log_model == "best"
            and self._best_weights is not None
            and self._best_epoch != self._last_epoch
        ):
            restore = self.model.get_weights()
            self.model.set_weights(self._best_weights)
        try:
            self.model_info = log_model(
                kash_model,
                self.model_name,
                run_id=self.active_run_id,
                registered_model_name=self.registered_model_name,
                tokenizer=self.tokenizer,
                scheme=self.scheme,
                input_example=self._input_example(),
                # MLflow would reload the saved model to run the example (seconds per
                # log); the flavor's tests prove such examples serve.
                validate_serving_input=False,
            )
        except Exception as err:
            if self.strict:
                raise
            self._keep_model_locally(kash_model, err)
        finally:
            if restore is not None:
                self.model.set_weights(restore)

    def _input_example(self) -> list[str] | None:
        """Two sentences of the fit data as text, saved with the model as its input example."""
        assert self.context is not None
        sentences = self.context.valid_x or self.context.train_x
        if not sentences:
            return None
        joiner = "" if self.tokenizer == "char" else " "
        example = [
            joiner.join(str(token) for token in sentence)
            for sentence in list(sentences)[:2]
            if len(sentence) > 0
        ]
        return example or None

    def _keep_model_locally(self, kash_model: Any, err: Exception) -> None:
        from kashgari_mlflow.flavor import save_model

        folder = tempfile.mkdtemp(prefix="kashgari-mlflow-model-")
        save_model(
            kash_model,
            os.path.join(folder, self.model_name),
            tokenizer=self.tokenizer,
            scheme=self.scheme,
        )
        warnings.warn(
            f"Could not log the trained model to run {self.active_run_id} ({type(err).__name__}: "
            f"{err}). It was saved to {os.path.join(folder, self.model_name)}; log it later with "
            "mlflow.log_artifacts(path, artifact_path=...) or kashgari_mlflow.log_model.",
            TrackingWarning,
            stacklevel=3,
        )

    def abort(self, status: str = "FAILED") -> None:
        """Close this callback's run after a failed ``fit``: send what is queued, set ``status``.

        Args:
            status: ``"FAILED"`` or ``"KILLED"``.
        """
        if self._logger is None or self.active_run_id not in _OPEN_RUNS:
            return
        self._finish_run(status)

    def _finish_run(self, status: str) -> None:
        import mlflow

        assert self._logger is not None
        _OPEN_RUNS.pop(str(self.active_run_id), None)
        if self._logger.pending or self._logger.has_background_flush:
            self._send_or_keep_queue()
        if not self._owns_run:
            return
        active = mlflow.active_run()
        try:
            with quick_retries():
                self._end(active, status)
        except Exception as err:
            if self.strict:
                raise
            warnings.warn(
                f"Could not mark run {self.active_run_id} {status}: {err}",
                TrackingWarning,
                stacklevel=3,
            )

    def _end(self, active: Any, status: str) -> None:
        import mlflow

        assert self._logger is not None
        if active is not None and active.info.run_id == self.active_run_id:
            mlflow.end_run(status=status)
        else:
            self._logger.client.set_terminated(self.active_run_id, status=status)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _env_tags() -> dict[str, Any]:
    raw = os.environ.get("MLFLOW_TAGS")
    if not raw:
        return {}
    shown = Redactor().text(raw)
    try:
        tags = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(
            f'MLFLOW_TAGS must be a JSON object like \'{{"team": "nlp"}}\', got {shown!r}.'
        ) from err  # its message gives a position, not the text
    if not isinstance(tags, dict):
        raise ValueError(f"MLFLOW_TAGS must be a JSON object, got {shown!r}.")
    return tags


def _model_summary(tf_model: Any) -> str:
    lines: list[str] = []
    tf_model.summary(print_fn=lines.append, line_length=110)
    return "\n".join(lines) + "\n"


def _model_config(kash_model: Any) -> dict[str, Any]:
    config: dict[str, Any] = kash_model.to_dict()
    config.pop("tf_model", None)  # the network JSON is in the logged model itself
    for block in ("text_processor", "label_processor"):
        config.get(block, {}).get("config", {}).pop("vocab2idx", None)
    config.get("embedding", {}).pop("embed_model", None)
    return config


def _experiment_id(name: str) -> str:
    """Id of the experiment called ``name``, created if missing, safe against a racing creator."""
    import mlflow
    from mlflow.exceptions import MlflowException

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(mlflow.create_experiment(name))
    except MlflowException as err:
        # Another process created it between the lookup and the create.
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)
