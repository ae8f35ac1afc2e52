"""Which process of a distributed training is the chief, the one that logs to MLflow.

Every worker of a multi-worker training runs the same ``fit`` with the same
callbacks; if each logged, one training would leave one run per worker. Only
the chief logs. The role is read, first match wins, from:

1. the cluster resolver of the Keras model's ``tf.distribute`` strategy
   (``MultiWorkerMirroredStrategy``, whatever resolver it was given);
2. ``TF_CONFIG`` (``{"cluster": {...}, "task": {"type": ..., "index": ...}}``):
   the chief is the task of type ``chief`` (or TF1's ``master``), or worker 0
   when the cluster has no ``chief``; ``ps`` and ``evaluator`` tasks are not;
3. the global rank variables of Horovod, MPI and PyTorch launchers, in this
   order: ``HOROVOD_RANK``, ``OMPI_COMM_WORLD_RANK``, ``PMI_RANK``,
   ``PMIX_RANK``, ``RANK``. Rank 0 is the chief.

``LOCAL_RANK`` (and ``HOROVOD_LOCAL_RANK``, ``OMPI_COMM_WORLD_LOCAL_RANK``) are
never read: they number processes within one machine, so every machine has a
local rank 0. ``SLURM_PROCID`` is not read either: ``srun -n 4`` also runs
independent trainings, which must each log. With none of these set, the
process is a single training and logs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Set to ``true`` to log from every worker (each starts its own run).
LOG_ON_ALL_WORKERS_ENV = "KASHGARI_MLFLOW_LOG_ON_ALL_WORKERS"
#: Global ranks, in the order they are read.
RANK_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "RANK")

_CHIEF_TYPES = ("chief", "master")

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a distributed training.

    Attributes:
        is_chief: Whether this process logs.
        description: Where the role was read, e.g. ``"TF_CONFIG task worker:1"``.
    """

    is_chief: bool
    description: str


def is_chief_task(cluster: Mapping[str, Any], task_type: str, task_index: int) -> bool:
    """Whether a ``tf.distribute`` task is the chief of its cluster.

    Args:
        cluster: Job name -> addresses, as in ``TF_CONFIG["cluster"]``.
        task_type: ``"chief"``, ``"worker"``, ``"ps"``, ``"evaluator"``...
        task_index: Index of the task within its job.

    Returns:
        True for the chief, or for worker 0 of a cluster that has no chief.
    """
    if task_type in _CHIEF_TYPES:
        return True
    has_chief = any(cluster.get(name) for name in _CHIEF_TYPES)
    return task_type == "worker" and task_index == 0 and not has_chief


def _from_strategy(strategy: Any) -> WorkerRole | None:
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    if resolver is None or not task_type:
        return None
    try:
        cluster = resolver.cluster_spec().as_dict()
        task_index = int(getattr(resolver, "task_id", 0) or 0)
    except (AttributeError, TypeError, ValueError):
        return None
    return WorkerRole(
        is_chief_task(cluster, str(task_type), task_index),
        f"the distribution strategy's task {task_type}:{task_index}",
    )


def _from_tf_config(raw: str | None) -> WorkerRole | None:
    if not raw:
        return None
    try:
        config = json.loads(raw)
        task = config.get("task") or {}
        task_type = task.get("type")
        task_index = int(task.get("index", 0))
        cluster = config.get("cluster") or {}
    except (AttributeError, TypeError, ValueError):
        _logger.debug("TF_CONFIG is not a JSON object with a task; ignored.")
        return None
    if not task_type or not isinstance(cluster, Mapping):
        return None
    return WorkerRole(
        is_chief_task(cluster, str(task_type), task_index),
        f"TF_CONFIG task {task_type}:{task_index}",
    )


def _from_rank_variables(environ: Mapping[str, str]) -> WorkerRole | None:
    for name in RANK_VARIABLES:
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        try:
            rank = int(raw)
        except ValueError:
            _logger.debug("%s=%r is not a rank; ignored.", name, raw)
            continue
        return WorkerRole(rank == 0, f"{name}={rank}")
    return None


def worker_role(environ: Mapping[str, str] | None = None, strategy: Any = None) -> WorkerRole:
    """Read this process's role in a distributed training (see the module docstring).

    Args:
        environ: Environment to read (``os.environ`` by default).
        strategy: The ``tf.distribute`` strategy training runs under, if any.

    Returns:
        The role; a process with no sign of distribution is the chief.
    """
    environ = os.environ if environ is None else environ
    return (
        _from_strategy(strategy)
        or _from_tf_config(environ.get("TF_CONFIG"))
        or _from_rank_variables(environ)
        or WorkerRole(True, "a single process")
    )
