"""Run ownership and closing: reuse the active run, own only the runs we start.

The shape of Lightning's ``MLFlowLogger``: every write names its run id to an
:class:`mlflow.MlflowClient`, and a run is ended only by the one who started it.

A Keras ``fit`` that raises never reaches ``on_train_end`` (Keras 2.15 has no
``finally`` there), so runs we started whose training has not ended are kept in
a registry and closed ``FAILED``/``KILLED`` by :func:`abort_open_runs` (autolog,
an uncaught exception through :func:`sys.excepthook`) or when the next training
finds one still active. :attr:`TrackedRun.train_ended` tells the two apart.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from kashgari_mlflow._compat import use_sqlite_store_by_default
from kashgari_mlflow._redaction import Redactor, redacted_context_tags
from kashgari_mlflow._tracking._env import env_flag, env_tags
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._queue import RunLogger, quick_retries

#: Runs we started whose training has not ended, by run id.
_OPEN_RUNS: dict[str, TrackedRun] = {}
_previous_excepthook: Any = None


def abort_open_runs(status: str = "FAILED") -> None:
    """End every run a callback started whose training did not finish."""
    for run in list(_OPEN_RUNS.values()):
        run.abort(status)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    abort_open_runs("KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED")
    (_previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)


def _install_excepthook() -> None:
    global _previous_excepthook
    if sys.excepthook is not _excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook


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
        if owned:
            _OPEN_RUNS[self.run_id] = self
            _install_excepthook()

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
        active = mlflow.active_run()
        if active is not None and active.info.run_id in _OPEN_RUNS:
            # An earlier fit started this run and raised before it ended.
            _OPEN_RUNS[active.info.run_id].abort("FAILED")
            active = mlflow.active_run()
        if active is None:
            use_sqlite_store_by_default()
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
        """Whether this is a run we started and have not closed yet."""
        return _OPEN_RUNS.get(self.run_id) is self

    def end_training(self, status: str = "FINISHED") -> None:
        """Close the run from ``on_train_end`` (``status`` is not FINISHED if that failed)."""
        self.train_ended = True
        self._close(status)

    def abort(self, status: str = "FAILED") -> None:
        """Close a run we started after a failed ``fit``: send what is queued, set ``status``.

        Args:
            status: ``"FAILED"`` or ``"KILLED"``.
        """
        if self.is_open:
            self._close(status)

    def _close(self, status: str) -> None:
        import mlflow

        _OPEN_RUNS.pop(self.run_id, None)
        if self.sender.pending or self.sender.has_background_flush:
            self.sender.drain(self.final_flush_seconds)
        if not self.owned:
            return
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
