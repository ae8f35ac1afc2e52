"""The one rule that turns a label or a name into an MLflow metric, param or tag key.

MLflow (``mlflow.utils.validation``) accepts keys of letters, digits, ``_``,
``-``, ``.``, space and ``/``, plus ``:`` except on Windows; and a key is a
path in some stores, so it must not normalise to another path (``a//b``,
``a/``, ``a/./b``, ``..``). Labels come from users' data (``B-creative:work``,
``I-c++``), so every key is cleaned here before it is sent.
"""

from __future__ import annotations

import re

# ":" is replaced too: MLflow rejects it on Windows, and one run's keys should
# not depend on where the store runs.
_INVALID_KEY_CHARS = re.compile(r"[^\w\-. /]")
_UNSAFE_SEGMENTS = ("", ".", "..")


def mlflow_key(name: str) -> str:
    r"""``name`` as a key MLflow accepts: other characters than ``\w - . space /`` become ``_``.

    Empty, ``.`` and ``..`` path segments become ``_`` too, so ``val_entity_f1/``
    (an unnamed type) is ``val_entity_f1/_``. Keys already valid are unchanged.

    Args:
        name: A label, metric or param name.

    Returns:
        A non-empty key.
    """
    cleaned = _INVALID_KEY_CHARS.sub("_", name)
    return "/".join(
        "_" if segment in _UNSAFE_SEGMENTS else segment for segment in cleaned.split("/")
    )
