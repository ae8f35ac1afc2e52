"""Import what the end of a fit needs while its epochs run.

The charts logged at the end of a fit import matplotlib: in a new process,
where users train, that import takes about 0.2-0.6 s of the time between the
last epoch and ``fit`` returning (``benchmarks/cold.py``, variant
``callback-no-prefetch``). Training steps run in TensorFlow's kernels, which
release the GIL, so a thread can import these modules during the epochs and
the end of the fit finds them imported. On 2 cores the whole process was not
shown to gain (docs/benchmarks.md): the thread's CPU competes with the training.

The callback starts it when the first epoch has ended, not before: during the
first epoch the main thread traces Keras' train function, Python work that
holds the GIL, and an import beside it made that epoch 1.0-1.4 s slower here.

Whoever needs these modules calls :func:`wait_for_background_imports` first
(the charts, the end of a fit, :func:`kashgari_mlflow.evaluate_model`).
Two threads importing different modules of one package can each hold the
import lock of a module the other needs; Python breaks that deadlock by
handing one of them a module that is still half initialised (``cannot import
name 'NullFormatter' from partially initialized module 'matplotlib.ticker'``,
``module 'matplotlib' has no attribute 'get_data_path'``): the charts were
lost when a short fit ended while the thread was still importing.
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

#: How long the end of a fit waits for the background imports at most.
WAIT_SECONDS = 120.0

_lock = threading.Lock()
_started = False
_thread: threading.Thread | None = None
_gave_up = False  # a wait timed out: later waits do not wait again


def import_in_background(modules: Sequence[str] = END_OF_FIT_MODULES) -> threading.Thread | None:
    """Start importing ``modules`` in a daemon thread, once per process.

    Call :func:`wait_for_background_imports` before importing one of them. A
    module that fails to import is left to fail where it is used (the charts
    are skipped without matplotlib).

    Returns:
        The thread, or None when an earlier call already started one (or none
        could be started).
    """
    global _started, _thread
    with _lock:
        if _started:
            return None
        _started = True
        thread = threading.Thread(
            target=_import_all, args=(tuple(modules),), name="kashgari-mlflow-imports", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # no thread can be started: the modules are imported when used
            return None
        _thread = thread
    return thread


def wait_for_background_imports(timeout: float = WAIT_SECONDS) -> bool:
    """Wait until the background imports are done, so this thread can import the same modules.

    Args:
        timeout: Seconds to wait at most. After one wait timed out, later calls
            return at once.

    Returns:
        Whether nothing is importing in the background any more.
    """
    global _gave_up
    with _lock:
        thread = _thread
    if thread is None or thread is threading.current_thread() or not thread.is_alive():
        return True
    if _gave_up:
        return False
    thread.join(timeout)
    if thread.is_alive():
        _gave_up = True
        return False
    return True


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module; its user reports the failure
            return
