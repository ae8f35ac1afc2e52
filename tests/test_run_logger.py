"""RunLogger's HTTP policy against a flaky network (a fault proxy in front of a stub server).

Flushes of the metric queue give up at once (the next flush sends the data, so
training never waits on MLflow's retries or a server's Retry-After), except that
a connection dropped mid-request is sent once more straight away; one-off
requests under ``quick_retries()`` (datasets, reports, the model, ending the run)
retry within seconds, so one 503 or dropped connection loses nothing.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from kashgari_mlflow import TrackingWarning
from kashgari_mlflow._tracking._queue import RunLogger
from kashgari_mlflow._tracking._retries import (
    is_dropped_connection,
    once_more_if_dropped,
    quick_retries,
)

from ._fault_proxy import (
    DROP_AFTER,
    DROP_BEFORE,
    UNAVAILABLE,
    UNAVAILABLE_RETRY_AFTER,
    FaultProxy,
)

RUN_ID = "0" * 32


class _EmptyAnswers(BaseHTTPRequestHandler):
    """Answers every MLflow REST call with an empty JSON object (a valid empty response)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyAnswers)
    thread = threading.Thread(target=stub.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    proxy = FaultProxy(f"http://127.0.0.1:{stub.server_address[1]}", retry_after=30)
    with proxy:
        yield proxy
    stub.shutdown()
    stub.server_close()
    thread.join()


@pytest.mark.parametrize(
    "faults",
    [
        (UNAVAILABLE,),
        (UNAVAILABLE_RETRY_AFTER,),
        (DROP_BEFORE, DROP_AFTER),
        (DROP_AFTER, DROP_BEFORE),
    ],
)
def test_queue_flush_gives_up_at_once_and_sends_later(
    proxy: FaultProxy, faults: tuple[str, ...]
) -> None:
    # A dropped connection is sent once more at once; a second drop is a failure.
    logger = RunLogger(mlflow.MlflowClient(proxy.url), RUN_ID)
    logger.queue_metrics({"loss": 0.5}, step=0)
    proxy.inject(*faults)
    started = time.monotonic()
    with pytest.warns(TrackingWarning, match="Training continues; metrics are kept"):
        assert not logger.flush()
    assert time.monotonic() - started < 5  # no backoff, no 30 s Retry-After
    assert proxy.requests == len(faults) and logger.pending == 1
    assert logger.flush()
    assert proxy.requests == len(faults) + 1 and logger.pending == 0


@pytest.mark.parametrize("fault", [DROP_BEFORE, DROP_AFTER])
def test_strict_flush_survives_one_dropped_connection(proxy: FaultProxy, fault: str) -> None:
    # A keep-alive connection the server closes as the client reuses it is reset
    # mid-request; strict=True must not end a training over that.
    logger = RunLogger(mlflow.MlflowClient(proxy.url), RUN_ID, strict=True)
    logger.queue_metrics({"loss": 0.5}, step=0)
    proxy.inject(fault)
    assert logger.flush()
    assert proxy.requests == 2 and logger.pending == 0
    assert proxy.forwarded == (2 if fault == DROP_AFTER else 1)


@pytest.mark.parametrize("faults", [(UNAVAILABLE,), (DROP_BEFORE, DROP_BEFORE)])
def test_strict_flush_raises_at_once_on_a_server_error_or_a_second_drop(
    proxy: FaultProxy, faults: tuple[str, ...]
) -> None:
    logger = RunLogger(mlflow.MlflowClient(proxy.url), RUN_ID, strict=True)
    logger.queue_metrics({"loss": 0.5}, step=0)
    proxy.inject(*faults)
    with pytest.raises(MlflowException):
        logger.flush()
    assert proxy.requests == len(faults) and logger.pending == 1


class _CountingClient:
    """An MlflowClient whose ``log_batch`` calls are counted."""

    def __init__(self, url: str) -> None:
        self.client = mlflow.MlflowClient(url)
        self.sends = 0

    def log_batch(self, *args: Any, **kwargs: Any) -> Any:
        self.sends += 1
        return self.client.log_batch(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_a_refused_connection_is_not_sent_again() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, not listening: refused
        client = _CountingClient(url)
        logger = RunLogger(client, RUN_ID, strict=True)
        logger.queue_metrics({"loss": 0.5}, step=0)
        with pytest.raises(MlflowException):
            logger.flush()
    assert client.sends == 1 and logger.pending == 1


def test_a_timeout_is_not_sent_again(monkeypatch: Any) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections complete in the backlog; nothing ever answers
        client = _CountingClient(f"http://127.0.0.1:{silent.getsockname()[1]}")
        logger = RunLogger(client, RUN_ID, strict=True)
        logger.queue_metrics({"loss": 0.5}, step=0)
        started = time.monotonic()
        with pytest.raises(MlflowException, match=r"(?i)timed? ?out"):
            logger.flush()
    assert client.sends == 1 and logger.pending == 1
    assert time.monotonic() - started < 5


def _mlflow_error(cause: BaseException) -> Exception:
    """An MlflowException chained as MLflow's REST client chains what requests raised."""
    import requests
    from urllib3.exceptions import MaxRetryError, ProtocolError

    try:
        try:
            raise requests.exceptions.ConnectionError(
                MaxRetryError(None, "/", ProtocolError("Connection aborted.", cause))  # type: ignore[arg-type]
            )
        except requests.exceptions.ConnectionError as err:
            raise MlflowException(f"API request failed with exception {err}")  # noqa: B904
    except MlflowException as err:
        return err


@pytest.mark.parametrize(
    ("cause", "dropped"),
    [
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (http.client.RemoteDisconnected("Remote end closed connection"), True),
        (BrokenPipeError(32, "Broken pipe"), True),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), True),
        (TimeoutError("timed out"), False),  # urllib3 wraps a send that timed out the same way
        (http.client.BadStatusLine("garbage"), False),  # a server that answers nonsense
        (ConnectionRefusedError(111, "Connection refused"), False),
    ],
)
def test_what_counts_as_a_dropped_connection(cause: BaseException, dropped: bool) -> None:
    assert is_dropped_connection(_mlflow_error(cause)) is dropped


def test_an_error_being_handled_by_the_caller_is_not_taken_for_a_drop() -> None:
    # A flush from an except or finally block: MLflow's 503 error gets the caller's
    # exception (here a reset) as its context; it must still count as a 503.
    sends = []

    def unavailable() -> None:
        sends.append(1)
        raise MlflowException("API request failed: too many 503 error responses")

    try:
        raise ConnectionResetError(104, "an earlier reset of the caller's own")
    except ConnectionResetError:
        with pytest.raises(MlflowException, match="503"):
            once_more_if_dropped(unavailable)
    assert len(sends) == 1


@pytest.mark.parametrize("fault", [UNAVAILABLE, DROP_BEFORE, DROP_AFTER])
def test_one_off_request_survives_one_fault(proxy: FaultProxy, fault: str) -> None:
    # Giving up at once here, as queue flushes do, would leave the run RUNNING and send
    # the model to a local folder over one 503 or dropped connection at the end of training.
    proxy.inject(fault)
    with quick_retries():
        mlflow.MlflowClient(proxy.url).set_tag(RUN_ID, "stage", "done")
    assert proxy.requests == 2
    assert proxy.forwarded == (2 if fault == DROP_AFTER else 1)


def test_a_retry_setting_of_the_user_wins(proxy: FaultProxy, monkeypatch: Any) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    proxy.inject(UNAVAILABLE)
    with quick_retries(), pytest.raises(MlflowException, match="503"):
        mlflow.MlflowClient(proxy.url).set_tag(RUN_ID, "stage", "done")
    assert proxy.requests == 1
