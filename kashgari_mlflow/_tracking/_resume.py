"""Which run a ``resume=True`` training continues."""

from __future__ import annotations

import os
from typing import Any

from kashgari_mlflow._redaction import Redactor
from kashgari_mlflow._tracking._checkpoint_store import LATEST_TAG
from kashgari_mlflow._tracking._retries import quick_retries
from kashgari_mlflow._tracking._runs import close_unfinished_active_run, experiment_id_for


def run_to_resume(
    run_id: str | None, experiment_name: str | None, run_name: str | None, nested: bool
) -> Any:
    """The id of the run to continue, or None (the training starts a new run).

    In order: ``run_id``; ``MLFLOW_RUN_ID`` (as a job scheduler sets it); the
    active run (unless the training runs ``nested`` in it); else the newest run
    of the experiment that did not finish and holds a checkpoint, with the
    same ``run_name`` when one is given and, when ``nested``, the active run as
    its parent, so that running the same command again after a preemption
    picks its own run up. A run still ``RUNNING`` counts as stopped: a process
    killed outright (SIGKILL) leaves its run so.
    """
    import mlflow

    # A caught error earlier in this process: its run ends now, storing its last epoch.
    close_unfinished_active_run()
    explicit = run_id or os.environ.get("MLFLOW_RUN_ID")
    if explicit:
        return explicit
    active = mlflow.active_run()
    if active is not None and not nested:
        return active.info.run_id
    with quick_retries():
        if experiment_name:
            experiment_id = experiment_id_for(experiment_name)
        else:
            from mlflow.tracking.fluent import _get_experiment_id

            experiment_id = _get_experiment_id() or "0"
        conditions = [f"tags.`{LATEST_TAG}` LIKE '%step%'", "attributes.status != 'FINISHED'"]
        if active is not None:  # nested: a child of the active run
            conditions.append(f"tags.`mlflow.parentRunId` = '{active.info.run_id}'")
        name = Redactor().text(run_name) if run_name else ""
        quote = "'" if "'" not in name else '"'
        if name and quote not in name:  # a name with both quotes cannot be searched for
            conditions.append(f"attributes.run_name = {quote}{name}{quote}")
        runs = mlflow.MlflowClient().search_runs(
            [experiment_id],
            " and ".join(conditions),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    return runs[0].info.run_id if runs else None
