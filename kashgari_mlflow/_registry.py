"""Register a logged model only after all of its files are uploaded and checked.

``mlflow.models.Model.log(registered_model_name=...)`` registers as soon as the
upload returns, and marks the logged model ``FAILED`` only when an
``Exception`` interrupts it: a Ctrl-C (``KeyboardInterrupt``) during the upload
leaves a ``PENDING`` model holding part of its files. Here the model is logged
without registration; the files it must have are looked up in the artifact
store; only then is a model version created. Any interruption before that
registers nothing and leaves the logged model ``FAILED``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from typing import Any

#: ``mlflow.tracking._model_registry.DEFAULT_AWAIT_MAX_SLEEP_SECONDS``, MLflow's own default.
DEFAULT_AWAIT_REGISTRATION_SECONDS = 300


class IncompleteModelError(RuntimeError):
    """The artifact store lacks files of a model that was just logged."""


def log_then_register(
    log: Callable[[], Any],
    required_files: Iterable[str],
    registered_model_name: str | None,
    *,
    await_registration_for: int | None = DEFAULT_AWAIT_REGISTRATION_SECONDS,
    tags: dict[str, Any] | None = None,
) -> Any:
    """Log a model with ``log()``, check its files, then (optionally) register it.

    Args:
        log: Logs the model without registering it; returns its ``ModelInfo``.
        required_files: Paths inside the model that must be in the artifact store,
            not empty.
        registered_model_name: Register the model under this name once checked.
        await_registration_for: Seconds to wait for the version to become ``READY``.
        tags: Tags of the new model version.

    Returns:
        The ``ModelInfo``, with ``registered_model_version`` set when registered.

    Raises:
        IncompleteModelError: If a required file is missing or empty after the upload.
    """
    import mlflow

    before = _last_logged_model_id()
    info = None
    try:
        info = log()
        check_uploaded(info.model_uri, required_files)
    except BaseException as err:
        failed = getattr(info, "model_id", None)
        if failed is None and not isinstance(err, Exception):
            # MLflow marks the model FAILED itself, but for an Exception only.
            failed = _last_logged_model_id()
        if failed is not None and failed != before:
            _mark_failed(failed)
        raise
    if registered_model_name is None:
        return info
    version = mlflow.register_model(
        info.model_uri,
        registered_model_name,
        await_registration_for=await_registration_for or 0,
        tags=tags,
    )
    info.registered_model_version = version.version
    return info


def check_uploaded(model_uri: str, required_files: Iterable[str]) -> None:
    """Raise unless every required file of ``model_uri`` is in the artifact store, not empty.

    Raises:
        IncompleteModelError: Naming the missing or empty files.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repository = get_artifact_repository(model_uri)
    required = sorted(set(required_files))
    folders = sorted({posixpath.dirname(path) for path in required})
    sizes: dict[str, int | None] = {}
    for folder in folders:
        for entry in repository.list_artifacts(folder or None):
            if not entry.is_dir:
                sizes[entry.path] = entry.file_size
    missing = [path for path in required if path not in sizes]
    empty = [path for path in required if sizes.get(path) == 0]
    if missing or empty:
        raise IncompleteModelError(
            f"The upload of {model_uri} is incomplete (missing: {missing}, empty: {empty}); "
            "it was not registered. Log the model again."
        )


def _last_logged_model_id() -> str | None:
    """Id of the last model this thread logged (MLflow 3), or None."""
    try:
        import mlflow

        last = getattr(mlflow, "last_logged_model", None)
        model = last() if last is not None else None
    except Exception:  # noqa: BLE001 - only used to mark a failed model; never fatal
        return None
    return getattr(model, "model_id", None)


def _mark_failed(model_id: str) -> None:
    try:
        import mlflow
        from mlflow.entities import LoggedModelStatus

        mlflow.MlflowClient().finalize_logged_model(model_id, LoggedModelStatus.FAILED)
    except Exception:  # noqa: BLE001 - best effort while an error or Ctrl-C propagates
        return
