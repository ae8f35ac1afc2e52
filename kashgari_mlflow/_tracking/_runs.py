"""Run ownership and closing: reuse the active run, own only the runs we start.

The shape of Lightning's ``MLFlowLogger``: every write names its run id to an
:class:`mlflow.MlflowClient`, and a run is ended only by the one who started it.

A Keras ``fit`` that raises never reaches ``on_train_end`` (Keras 2.15 has no
``finally`` there), so every run whose training has not ended is watched by
:mod:`._run_guard`, which closes it ``FAILED``/``KILLED`` however the training
stopped (an exception, a failing notebook cell, SIGTERM, Ctrl-C, the process
exiting), or when the next training finds it still active.
:attr:`TrackedRun.train_ended` tells the two apart. A run the user opened is
never ended: it gets the tag :data:`FIT_STATUS_TAG` saying how the fit ended.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kashgari_mlflow._compat import use_sqlite_store_by_default
from kashgari_mlflow._context_redaction import redacted_context_tags
from kashgari_mlflow._redaction import Redactor
from kashgari_mlflow._tracking import _run_guard
from kashgari_mlflow._tracking._env import env_flag, env_tags
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._queue import RunLogger
from kashgari_mlflow._tracking._retries import quick_retries

#: Tag set on a run the user opened: how the last fit inside it ended
#: (``FINISHED``, ``FAILED`` or ``KILLED``), since we never end such a run.
FIT_STATUS_TAG = "kashgari_mlflow.fit_status"
#: Tag with the error that stopped a fit inside a run the user opened, when known.
FIT_ERROR_TAG = "kashgari_mlflow.fit_error"


def close_unfinished_active_run() -> None:
    """End the active run ``FAILED`` if an earlier fit in it raised before it ended."""
    import mlflow

    active = mlflow.active_run()
    unfinished = _run_guard.watched(active.info.run_id) if active is not None else None
    if unfinished is not None:
        unfinished.abort("FAILED")


def abort_open_runs(status: str = "FAILED") -> None:
    """Close every run whose training did not finish (autolog calls it after a failed fit)."""
    _run_guard.abort_all(status)


class TrackedRun:
    """The run one ``fit`` writes to, its send queue, and how it ends.

    Args:
        sender: The send queue of the run (it names the run id).
        owned: Whether we started the run (only then do we end it).
        final_flush_seconds: How long closing waits for an unreachable server.
    """

    def __init__(self, sender: RunLogger, *, owned: bool, final_flush_seconds: float) -> None:
        self.sender = sender
        self.run_id = sender.run_id
        self.owned = owned
        self.final_flush_seconds = final_flush_seconds
        #: Whether ``on_train_end`` closed the run (False: a failed or interrupted fit).
        self.train_ended = False
        #: Called, in order, when the training stops without ending, before the run closes.
        self.before_abort: list[Callable[[], None]] = []
        _run_guard.watch(self)

    @classmethod
    def open(
        cls,
        *,
        experiment_name: str | None = None,
        run_name: str | None = None,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        nested: bool | None = None,
        policy: FailurePolicy | None = None,
        final_flush_seconds: float = 60.0,
    ) -> TrackedRun:
        """Reuse the active run (tags added, left open) or start one that we own.

        Args:
            experiment_name: Experiment of a run we start (created if missing).
            run_name: Name of a run we start (redacted).
            run_id: Resume this run (``MLFLOW_RUN_ID`` is read by MLflow).
            tags: Tags for the run, merged over ``MLFLOW_TAGS`` and redacted.
            nested: Start a child of the active run (default ``MLFLOW_NESTED_RUN``).
            policy: Failure policy of the run's send queue.
            final_flush_seconds: How long closing waits for an unreachable server.
        """
        import mlflow

        redactor = Redactor()
        tags = redactor.mapping({**env_tags(), **(tags or {})}, "tags")
        nested = nested if nested is not None else env_flag("MLFLOW_NESTED_RUN")
        close_unfinished_active_run()  # an earlier fit in it raised before it ended
        active = mlflow.active_run()
        if active is None:
            use_sqlite_store_by_default()
        # Starting obeys the quick retries of every one-off request: a server that is
        # down is an error within seconds, before any training, not after minutes.
        with quick_retries():
            client = mlflow.MlflowClient()
            if active is not None and not nested and run_id in (None, active.info.run_id):
                if tags:
                    client.log_batch(
                        active.info.run_id,
                        tags=[mlflow.entities.RunTag(k, v) for k, v in tags.items()],
                    )
                sender = RunLogger(client, active.info.run_id, policy=policy)
                return cls(sender, owned=False, final_flush_seconds=final_flush_seconds)
            experiment_id = None
            if experiment_name and run_id is None:
                experiment_id = experiment_id_for(experiment_name)
            if run_id is None:
                run_name = redactor.scrub(run_name, "the run name") if run_name else None
                tags = {**redacted_context_tags(redactor, tags), **tags}
            else:
                run_name = None
            run = mlflow.start_run(
                run_id=run_id,
                experiment_id=experiment_id,
                run_name=run_name,
                nested=nested or active is not None,
                tags=tags or None,
            )
            sender = RunLogger(client, run.info.run_id, policy=policy)
            return cls(sender, owned=True, final_flush_seconds=final_flush_seconds)

    @property
    def is_open(self) -> bool:
        """Whether the training in this run started and has not ended yet."""
        return _run_guard.is_watched(self)

    def end_training(self, status: str = "FINISHED") -> None:
        """Close the run from ``on_train_end`` (``status`` is not FINISHED if that failed)."""
        self.train_ended = True
        self._close(status)

    def abort(
        self, status: str = "FAILED", error: str | None = None, seconds: float | None = None
    ) -> None:
        """Close the run after a failed ``fit``: send what is queued, set ``status``.

        A run the user opened is not ended; it gets :data:`FIT_STATUS_TAG` (and
        :data:`FIT_ERROR_TAG` when the error is known).

        Args:
            status: ``"FAILED"`` or ``"KILLED"``.
            error: What stopped the training, when known (redacted before it is sent).
            seconds: How long to wait for an unreachable server (default: ``final_flush_seconds``).
        """
        if not self.is_open:
            return
        try:
            for step in self.before_abort:
                step()
        except Exception as err:  # noqa: BLE001 - closing the run comes first
            self.sender.policy.warn(f"Before closing run {self.run_id}: {err}", stacklevel=2)
        finally:
            self._close(status, error, seconds)

    def _close(self, status: str, error: str | None = None, seconds: float | None = None) -> None:
        if not self.owned:
            self.sender.queue_tags(
                {FIT_STATUS_TAG: status, **({FIT_ERROR_TAG: error} if error else {})}
            )
        try:
            if self.sender.pending or self.sender.has_background_flush:
                self.sender.drain(self.final_flush_seconds if seconds is None else seconds)
        finally:
            # Even when draining raised (strict, a second Ctrl-C), the status is written
            # before the run stops being watched: else MLflow's exit hook ends it FINISHED.
            try:
                if self.owned:
                    self._write_status(status)
            finally:
                _run_guard.forget(self)

    def _write_status(self, status: str) -> None:
        import mlflow

        active = mlflow.active_run()
        with self.sender.policy.guard(f"mark run {self.run_id} {status}"), quick_retries():
            if active is not None and active.info.run_id == self.run_id:
                mlflow.end_run(status=status)
            else:
                self.sender.client.set_terminated(self.run_id, status=status)


def experiment_id_for(name: str) -> str:
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
