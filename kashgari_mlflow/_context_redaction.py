"""Secrets in what MLflow adds on its own: context tags, and a model's own config.

:mod:`kashgari_mlflow._redaction` masks what we send; these two cover what MLflow
or Kashgari would store around it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from kashgari_mlflow._redaction import Redactor, warn_redacted


def redacted_context_tags(redactor: Redactor, tags: Mapping[str, str]) -> dict[str, str]:
    """MLflow's own tags (user, source, git URL...) that hold a secret, redacted.

    MLflow adds these context tags to every run and logged model it creates;
    passed along with ``tags`` to ``start_run`` or ``Model.log``, the redacted
    values replace them before any is stored (a git remote URL with a CI job
    token in it is the usual case).

    Args:
        redactor: Knows the secret values.
        tags: Tags already given (they win over the context).

    Returns:
        Only the context tags that needed redaction, redacted.
    """
    if not redactor:
        return {}
    try:
        from mlflow.tracking.context.registry import resolve_tags

        context = resolve_tags()
    except Exception:  # noqa: BLE001 - MLflow's plugin registry; without it nothing to pre-empt
        return {}
    unset = {key: str(value) for key, value in context.items() if key not in tags}
    redacted = {key: redactor.text(value) for key, value in unset.items()}
    changed = {key: value for key, value in redacted.items() if value != unset[key]}
    sources = redactor.sources("\n".join(unset[key] for key in changed))
    warn_redacted("MLflow context tags", changed, sources)
    return changed


def warn_model_secrets(redactor: Redactor, config: Any, where: str) -> None:
    """Warn when a model's own config holds secrets; it is logged unchanged.

    Kashgari rebuilds the model from its config, so the config stored with the
    model is not rewritten: the warning says where the secret is (never what).

    Args:
        redactor: Knows the secret values.
        config: The Kashgari config (``kash_model.to_dict()``).
        where: The file it is saved as, for the warning.
    """
    found = redactor.find(config)
    if not found:
        return
    paths = sorted({path for path, _ in found})
    names = sorted({name for _, name in found})
    shown = paths[:5] + ([f"... {len(paths) - 5} more"] if len(paths) > 5 else [])
    warnings.warn(
        f"The model's {where} holds the value of the environment variable(s) "
        f"{', '.join(names)} at {shown}. The model is logged with it, because Kashgari "
        "needs its config to load the model; remove the secret from the model's "
        "hyper-parameters or embedding settings to keep it out of MLflow.",
        UserWarning,
        stacklevel=3,
    )
