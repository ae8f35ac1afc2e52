"""Close the runs whose training never ended, however the training stopped.

A Keras callback never sees the exception that stops ``fit`` (Keras 2.15 calls
``on_train_end`` only after a normal end), and MLflow registers an exit hook
that ends the active run ``FINISHED``. So a run whose training has not ended is
*watched* here until it ends, and closed by whichever of these comes first:

* an uncaught exception (:data:`sys.excepthook`): ``FAILED``, ``KILLED`` for Ctrl-C;
* a failing IPython/Jupyter cell (the ``post_run_cell`` event, whose result has
  ``error_in_exec``; IPython does not call :data:`sys.excepthook`): the same,
  before the next cell runs;
* ``SIGTERM`` (how Kubernetes, Slurm and spot instances stop a job): ``KILLED``,
  what is queued is sent first (for at most :data:`SIGTERM_FLUSH_SECONDS`), then
  the previous handler runs, or the process terminates by the signal as it
  would have;
* the process exits with the training unfinished (a script caught the error):
  ``FAILED``, or ``KILLED`` if a Ctrl-C was seen. Python runs exit hooks last
  registered first, and MLflow registers its own when it is imported, so this
  one runs before MLflow's and MLflow's finds no active run left to finish.

The hooks are installed when the first run is watched and removed when the
last one ends: with no run of ours open, the process is as we found it.
Only runs we started are ended; a run the user opened gets the tag
:data:`FIT_STATUS_TAG` instead (see :class:`kashgari_mlflow._tracking._runs.TrackedRun`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any, Protocol

#: How long a SIGTERM waits for the tracking server before the process goes on to
#: terminate: well inside the 30 s that Kubernetes (terminationGracePeriodSeconds)
#: and Slurm (KillWait) give between SIGTERM and SIGKILL by default.
SIGTERM_FLUSH_SECONDS = 10.0


class Watched(Protocol):
    """A run whose training has started and not ended."""

    run_id: str

    def abort(self, status: str, error: str | None = None, seconds: float | None = None) -> None:
        """Close the run after its training stopped without ending."""


_logger = logging.getLogger(__name__)
_watched: dict[str, Watched] = {}
_lock = threading.RLock()
_interrupted = False
_installed = False
_previous_excepthook: Any = None
_previous_sigterm: Any = None
_previous_sigint: Any = None
_ipython_shell: Any = None


def watch(run: Watched) -> None:
    """Close ``run`` if its training stops without ending; install the hooks if needed."""
    global _interrupted
    with _lock:
        if not _watched:
            _interrupted = False
        _watched[run.run_id] = run
        _install()


def forget(run: Watched) -> None:
    """``run`` has ended; remove the hooks when no run is watched any more."""
    with _lock:
        if _watched.get(run.run_id) is run:
            del _watched[run.run_id]
        if not _watched:
            _uninstall()


def watched(run_id: str) -> Watched | None:
    """The watched run with this id, if its training has not ended."""
    return _watched.get(run_id)


def is_watched(run: Watched) -> bool:
    """Whether ``run`` is watched (its training started and has not ended)."""
    return _watched.get(run.run_id) is run


def abort_all(status: str, error: str | None = None, seconds: float | None = None) -> None:
    """Close every watched run with ``status``; one that fails to close does not stop the rest."""
    for run in list(_watched.values()):
        try:
            run.abort(status, error, seconds)
        except Exception as err:  # noqa: BLE001 - a hook must reach the handler it chains to
            _logger.warning("Could not close MLflow run %s as %s: %s", run.run_id, status, err)


def _status_of(error_type: type[BaseException] | None) -> str:
    if _interrupted or (error_type is not None and issubclass(error_type, KeyboardInterrupt)):
        return "KILLED"
    return "FAILED"


def _describe(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


# --------------------------------------------------------------------- the hooks
def _excepthook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    previous = _previous_excepthook or sys.__excepthook__  # closing the last run uninstalls
    abort_all(_status_of(kind), _describe(error))
    previous(kind, error, tb)


def _at_exit() -> None:
    abort_all(_status_of(None), "the process exited before the training ended")


def _after_cell(result: Any) -> None:
    error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
    if error is not None and _watched:
        abort_all(_status_of(type(error)), _describe(error))


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous_sigterm
    try:
        abort_all("KILLED", "the process received SIGTERM", SIGTERM_FLUSH_SECONDS)
    finally:
        if callable(previous):
            previous(signum, frame)
        else:
            # Terminate by the signal itself, as the default disposition would have.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)


def _on_sigint(signum: int, frame: Any) -> None:
    global _interrupted
    _interrupted = True
    previous = _previous_sigint
    if callable(previous):
        previous(signum, frame)
    else:
        signal.default_int_handler(signum, frame)


def _install() -> None:
    global _installed, _previous_excepthook, _previous_sigterm, _previous_sigint
    if _installed:
        return
    _installed = True
    if sys.excepthook is not _excepthook:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    atexit.register(_at_exit)
    _install_ipython_hook()
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    current = signal.getsignal(signal.SIGTERM)
    if current is not signal.SIG_IGN:  # a process that ignores SIGTERM keeps running
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)
    current = signal.getsignal(signal.SIGINT)
    if callable(current):  # Python's KeyboardInterrupt, or a handler of the user's
        _previous_sigint = current
        signal.signal(signal.SIGINT, _on_sigint)


def _install_ipython_hook() -> None:
    global _ipython_shell
    if "IPython" not in sys.modules:
        return
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.events.register("post_run_cell", _after_cell)
            _ipython_shell = shell
    except Exception:  # noqa: BLE001 - an IPython without events: the exit hook still works
        _ipython_shell = None


def _uninstall() -> None:
    global _installed, _previous_excepthook, _previous_sigterm, _previous_sigint, _ipython_shell
    if not _installed:
        return
    _installed = False
    if sys.excepthook is _excepthook:
        sys.excepthook = _previous_excepthook or sys.__excepthook__
    _previous_excepthook = None
    atexit.unregister(_at_exit)
    if _ipython_shell is not None:
        with contextlib.suppress(ValueError):  # the user unregistered it already
            _ipython_shell.events.unregister("post_run_cell", _after_cell)
        _ipython_shell = None
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, _previous_sigterm or signal.SIG_DFL)
        if signal.getsignal(signal.SIGINT) is _on_sigint:
            signal.signal(signal.SIGINT, _previous_sigint or signal.default_int_handler)
    _previous_sigterm = _previous_sigint = None
