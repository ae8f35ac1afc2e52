"""Import what the end of a fit needs while its epochs run.

The charts logged at the end of a fit import matplotlib: in a new process,
where users train, that import alone took about 1.5 s of the time between the
last epoch and ``fit`` returning. Training steps run in TensorFlow's kernels,
which release the GIL, so a thread that imports these modules during the
epochs costs little wall time, and the end of the fit finds them imported.

The callback starts it when the first epoch has ended, not before: during the
first epoch the main thread traces Keras' train function, Python work that
holds the GIL, and an import beside it made that epoch 1.0-1.4 s slower here.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

#: Modules the end of a fit imports: the charts' (matplotlib is optional).
END_OF_FIT_MODULES = (
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "matplotlib.ticker",
)

_lock = threading.Lock()
_started = False


def import_in_background(modules: Sequence[str] = END_OF_FIT_MODULES) -> threading.Thread | None:
    """Start importing ``modules`` in a daemon thread, once per process.

    Whoever imports one of them meanwhile waits for that module, as with any
    concurrent import. A module that fails to import is left to fail where it is
    used (the charts are skipped without matplotlib).

    Returns:
        The thread, or None when an earlier call already started one.
    """
    global _started
    with _lock:
        if _started:
            return None
        _started = True
    thread = threading.Thread(
        target=_import_all, args=(tuple(modules),), name="kashgari-mlflow-imports", daemon=True
    )
    thread.start()
    return thread


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module; its user reports the failure
            return
