"""Keep a model's paths inside its folder and its ``code/`` off ``sys.path`` until trusted.

``code`` and ``data`` in an MLmodel file are joined to the model folder, so an
absolute path or ``../`` would make any folder (the standard library, a home
directory) count as the model's own. A shipped ``code/kashgari`` package would
shadow the real Kashgari for everything imported after it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kashgari_mlflow._loading import ModelFilesError

#: Top-level names a model's ``code/`` may not define: they would replace the
#: libraries the loader itself trusts for everything imported after them.
SHADOW_REFUSED = frozenset(
    {"kashgari", "keras", "tensorflow", "tensorflow_addons", "bert4keras", "h5py", "mlflow"}
)


def path_inside(model_root: str, relative: object, key: str) -> str:
    """``model_root/relative``, refused unless it stays inside the model folder.

    Args:
        model_root: The model folder (the one holding ``MLmodel``).
        relative: The value of ``key`` in the MLmodel file.
        key: ``"data"`` or ``"code"``, for the message.

    Returns:
        The absolute path, symlinks resolved.

    Raises:
        ModelFilesError: If the value is not a relative path inside the folder.
    """
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        raise ModelFilesError(
            f"MLmodel gives {key}: {relative!r}; it must be a relative path inside the model "
            "folder. The model is refused."
        )
    root = Path(model_root).resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise ModelFilesError(
            f"MLmodel gives {key}: {relative!r}, which leads outside the model folder "
            f"{root}. The model is refused."
        )
    return str(target)


def file_inside(folder: str, name: str) -> str:
    """``folder/name``, refused if it is a link leading outside ``folder``.

    Raises:
        ModelFilesError: If the file resolves outside the folder.
    """
    root = Path(folder).resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise ModelFilesError(
            f"{os.path.join(folder, name)} links to {target}, outside the model folder. The "
            "model is refused."
        )
    return str(target)


def check_shipped_code(code_dir: str) -> None:
    """Refuse a ``code/`` folder that would shadow a library the loader trusts.

    Raises:
        ModelFilesError: Naming the shadowing module.
    """
    for entry in Path(code_dir).iterdir():
        name = entry.stem if entry.suffix in (".py", ".pyc") else entry.name
        if name in SHADOW_REFUSED or name in sys.stdlib_module_names:
            raise ModelFilesError(
                f"The model's code folder holds {entry.name!r}, which would shadow the "
                f"installed {name!r} for everything imported after it. The model is refused."
            )


@contextmanager
def code_on_sys_path(code_dir: str) -> Iterator[None]:
    """Put ``code_dir`` first on ``sys.path``; if the block fails, undo it and its imports.

    On success the path stays, as MLflow's own loaders leave it (the model's
    classes import from it later). On failure ``sys.path`` is restored and
    every module loaded from ``code_dir`` is dropped from ``sys.modules``, so
    the next load cannot pick one up.
    """
    saved_path = list(sys.path)
    sys.path.insert(0, code_dir)
    try:
        yield
    except BaseException:
        sys.path[:] = saved_path
        root = Path(code_dir).resolve()
        for name, module in list(sys.modules.items()):
            source = getattr(module, "__file__", None)
            if source and Path(source).resolve().is_relative_to(root):
                del sys.modules[name]
        raise
