"""Settings read from the environment: MLflow's run variables and our own flags."""

from __future__ import annotations

import json
import os
from typing import Any

from kashgari_mlflow._redaction import Redactor

_TRUE = ("1", "true", "yes", "on")


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to a true value (``1``, ``true``...)."""
    return os.environ.get(name, "").strip().lower() in _TRUE


def env_tags() -> dict[str, Any]:
    """The JSON object in ``MLFLOW_TAGS`` (empty when unset).

    Raises:
        ValueError: If ``MLFLOW_TAGS`` is not a JSON object; the message shows it redacted.
    """
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
