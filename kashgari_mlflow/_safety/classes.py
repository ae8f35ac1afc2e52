"""Resolve the class paths in ``model_config.json`` to real Kashgari classes, by ourselves.

Kashgari's loader hands ``f"{__module__}.{__class_name__}"`` to
``pydoc.locate``, which imports and then follows attributes:
``kashgari.utils.os.system`` is ``os.system``, reached through Kashgari's own
imports. Here the module is imported by its exact name, the class is looked up
in that module's own namespace (no attribute walk, no module ``__getattr__``),
and the result must be a class defined inside the installed Kashgari that
subclasses what the block is: a task model, an embedding or a processor.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, NoReturn

from kashgari_mlflow._loading import ModelFilesError

#: Each class-bearing block of model_config.json and the Kashgari base its class must have.
BLOCK_BASES: dict[str, tuple[str, str]] = {
    "model": ("kashgari.tasks.abs_task_model", "ABCTaskModel"),
    "embedding": ("kashgari.embeddings.abc_embedding", "ABCEmbedding"),
    "text_processor": ("kashgari.processors.abc_processor", "ABCProcessor"),
    "label_processor": ("kashgari.processors.abc_processor", "ABCProcessor"),
}


def class_blocks(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The blocks of a parsed ``model_config.json`` that name a class, by role."""
    return {
        "model": config,
        "embedding": config["embedding"],
        "text_processor": config["text_processor"],
        "label_processor": config["label_processor"],
    }


def resolve_classes(config: dict[str, Any], *, allow_untrusted: bool = False) -> dict[str, type]:
    """The class of every block, resolved and checked; nothing outside Kashgari is imported.

    Args:
        config: A parsed ``model_config.json``.
        allow_untrusted: Also accept classes outside Kashgari (importing their
            module runs it); the base-class check still applies.

    Returns:
        The class of each role in :data:`BLOCK_BASES`.

    Raises:
        ModelFilesError: Naming the block and the class path it asks for.
    """
    return {
        role: resolve_class(block, role, allow_untrusted=allow_untrusted)
        for role, block in class_blocks(config).items()
    }


def resolve_class(block: dict[str, Any], role: str, *, allow_untrusted: bool = False) -> type:
    """Resolve one block's ``__module__``/``__class_name__`` (see :func:`resolve_classes`)."""
    module_name, class_name = block.get("__module__"), block.get("__class_name__")
    asked = f"{module_name}.{class_name}"
    if not isinstance(module_name, str) or not isinstance(class_name, str):
        _refuse(role, asked, "it is not a module and class name")
    if not class_name.isidentifier() or not all(p.isidentifier() for p in module_name.split(".")):
        _refuse(role, asked, "it is not a module and class name")
    if not allow_untrusted and module_name.split(".")[0] != "kashgari":
        _refuse(role, asked, "it is outside Kashgari")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        _refuse(role, asked, f"its module cannot be imported ({err})")
    # The module's own namespace: no attribute walk, no module-level __getattr__.
    found = vars(module).get(class_name)
    base = _base_class(role)
    if not isinstance(found, type) or not issubclass(found, base):
        _refuse(role, asked, f"it is not a {base.__name__} subclass")
    if not allow_untrusted and not (
        found.__module__.startswith("kashgari.") and _inside_installed_kashgari(module)
    ):
        _refuse(role, asked, "it is not a class defined inside the installed Kashgari")
    return found


def _base_class(role: str) -> type:
    module_name, class_name = BLOCK_BASES[role]
    base: type = getattr(importlib.import_module(module_name), class_name)
    return base


def _inside_installed_kashgari(module: Any) -> bool:
    """A ``kashgari`` package earlier on ``sys.path`` (a model's ``code/``) is not Kashgari."""
    kashgari = sys.modules["kashgari"]
    root = Path(kashgari.__file__ or "").resolve().parent
    source = Path(getattr(module, "__file__", None) or "").resolve()
    return source.is_relative_to(root)


def _refuse(role: str, asked: str, reason: str) -> NoReturn:
    raise ModelFilesError(
        f"model_config.json asks to import {asked!r} as its {role}, which is refused: {reason}. "
        "Loading it could run code from outside Kashgari. If you trust the model's source, "
        "pass allow_untrusted_classes=True to kashgari_mlflow.load_model."
    )
