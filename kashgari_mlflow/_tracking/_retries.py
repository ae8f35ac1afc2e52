"""How often one request to the tracking server is retried, for our requests only.

MLflow's HTTP client retries a failed request 7 times with exponential backoff
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``):
minutes of stalled training per epoch while a server is down. Flushes of the
send queue fail fast instead (``retries=0``) and keep the data for the next one;
only a connection dropped mid-request (a reset, typically a keep-alive connection
the server closed just as it was reused) is sent once more at once
(:func:`once_more_if_dropped`): that is a hiccup of the transport, not a server
that is down, and ``strict=True`` must not end a training over it.
One-off requests (the run start, datasets, reports, the model upload, ending the
run) have no queue behind them: a single 503 or dropped connection would lose
the model to a local folder or leave the run RUNNING (tests/test_outage_soak.py),
so they get :data:`QUICK_RETRIES`, backoff 0, 2 and 4 s (plus a jitter of up to
0.25 s, and any Retry-After the server sends).

MLflow reads these settings from the environment at each request
(``mlflow.environment_variables``), so setting ``os.environ`` would change them
for every thread of the process, and another thread iterating the environment
could meet it half-changed. :func:`quick_retries` instead sets a context
variable (per thread, per asyncio task) that MLflow's readers of those four
settings consult first; outside the block, and in every other thread, MLflow
reads the environment as usual. A variable the user set always wins.
"""

from __future__ import annotations

import http.client
import ssl
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

Result = TypeVar("Result")

QUICK_RETRIES = 3

#: What a quick request uses, by MLflow setting; ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``
#: comes from the ``retries`` argument.
_QUICK_SETTINGS: Mapping[str, Any] = {
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": 1,
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": 0.25,
    "MLFLOW_HTTP_REQUEST_TIMEOUT": 10,
}
_RETRIES_SETTING = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"

_overrides: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "kashgari_mlflow_http_settings", default=None
)
_install_lock = threading.Lock()
_installed = False


@contextmanager
def quick_retries(retries: int = QUICK_RETRIES) -> Iterator[None]:
    """Within this block, in this thread, MLflow retries ``retries`` times in seconds, not minutes.

    Args:
        retries: Retries of a failed request; 0 gives up at once.
    """
    _install()
    token = _overrides.set({**_QUICK_SETTINGS, _RETRIES_SETTING: retries})
    try:
        yield
    finally:
        _overrides.reset(token)


def current_settings() -> Mapping[str, Any] | None:
    """The settings :func:`quick_retries` applies in this context, or None outside it."""
    return _overrides.get()


def _install() -> None:
    """Make MLflow's four HTTP settings consult the context variable first (once)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        from mlflow import environment_variables

        for name in (*_QUICK_SETTINGS, _RETRIES_SETTING):
            variable = getattr(environment_variables, name, None)
            if variable is not None:
                variable.get = _reader(name, variable, variable.get)
        _installed = True


def _reader(name: str, variable: Any, read_environment: Any) -> Any:
    def get() -> Any:
        overrides = _overrides.get()
        if overrides is None or name not in overrides or variable.is_set():
            return read_environment()
        return overrides[name]

    return get


def once_more_if_dropped(request: Callable[[], Result]) -> Result:
    """Call ``request``; if its connection dropped mid-request, call it once more.

    A request the server stored before the connection dropped is sent twice: a
    database-backed tracking store keeps a repeated metric, param or tag once, a
    file store keeps both copies of a metric (the at-least-once delivery of
    :mod:`._queue`).

    Args:
        request: Sends one request and returns its answer.

    Returns:
        The answer of the first call that did not fail.

    Raises:
        Exception: The second failure, or any failure that is not a dropped connection.
    """
    # The exception being handled where we are called (a flush from an ``except`` or
    # ``finally`` block) is chained to a new one as its context: it is not ours.
    outer = sys.exc_info()[1]
    try:
        return request()
    except Exception as err:
        if not is_dropped_connection(err, outer=outer):
            raise
    return request()


def is_dropped_connection(err: BaseException, *, outer: BaseException | None = None) -> bool:
    """Whether ``err`` comes from a connection reset or closed by the peer mid-request.

    Refused connections (a server that is down), timeouts (also when urllib3
    reports them as an aborted connection) and HTTP errors are not: sending
    again at once would fail or wait the same way.

    Args:
        err: What a request raised; the errors it wraps are searched too
            (``__cause__``, ``__context__``, urllib3's ``reason`` and ``args``).
        outer: An exception that was already being handled when the request
            was made; it and what it wraps are not searched.

    Returns:
        True for a reset, aborted or prematurely closed connection.
    """
    wrapped = _wrapped_errors(err, stop=_wrapped_errors(outer) if outer is not None else [])
    if any(isinstance(error, _timeouts()) for error in wrapped):
        return False
    return any(isinstance(error, _DROPPED) for error in wrapped)


#: A connection the peer reset, aborted or closed before the answer was complete
#: (``http.client.RemoteDisconnected`` is a ``ConnectionResetError``; a TLS
#: connection cut without its closing message raises ``SSLEOFError``).
_DROPPED = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.IncompleteRead,
    ssl.SSLEOFError,
)


def _timeouts() -> tuple[type[BaseException], ...]:
    try:
        from urllib3.exceptions import TimeoutError as Urllib3Timeout
    except ImportError:  # pragma: no cover - urllib3 comes with MLflow's requests
        return (TimeoutError,)
    return (TimeoutError, Urllib3Timeout)


def _wrapped_errors(
    err: BaseException, stop: list[BaseException] | None = None
) -> list[BaseException]:
    """``err`` and every error it wraps, except those in ``stop``."""
    stopped = {id(error) for error in stop or []}
    found: list[BaseException] = []
    seen: set[int] = set()
    pending = [err]
    while pending:
        error = pending.pop()
        if id(error) in seen or id(error) in stopped:
            continue
        seen.add(id(error))
        found.append(error)
        # requests and MLflow chain the cause; urllib3 keeps it in ``reason`` or ``args``.
        inner = (error.__cause__, error.__context__, getattr(error, "reason", None), *error.args)
        pending.extend(item for item in inner if isinstance(item, BaseException))
    return found
