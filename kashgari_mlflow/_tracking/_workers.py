"""Which process of a distributed training logs: only the chief, unless asked otherwise."""

from __future__ import annotations

from typing import Any

from kashgari_mlflow._distributed import LOG_ON_ALL_WORKERS_ENV, worker_role
from kashgari_mlflow._tracking._env import env_flag


def not_the_logging_worker(tf_model: Any, log_on_all_workers: bool | None) -> str | None:
    """Why this process must not log (a non-chief worker), or None.

    Args:
        tf_model: The Keras model being trained (its ``distribute_strategy`` names the chief).
        log_on_all_workers: Log from every worker; None reads ``LOG_ON_ALL_WORKERS_ENV``.
    """
    log_everywhere = (
        log_on_all_workers if log_on_all_workers is not None else env_flag(LOG_ON_ALL_WORKERS_ENV)
    )
    if log_everywhere:
        return None
    role = worker_role(strategy=getattr(tf_model, "distribute_strategy", None))
    if role.is_chief:
        return None
    return (
        f"{role.description} is not the chief worker of this distributed training and "
        f"only the chief logs (log_on_all_workers=True or {LOG_ON_ALL_WORKERS_ENV}=true "
        "logs from every worker)"
    )
