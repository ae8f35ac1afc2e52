"""The run guard's hooks, per-context retries and refused items, in process and without a server."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES
from mlflow.exceptions import MlflowException

from kashgari_mlflow import TrackingWarning
from kashgari_mlflow._tracking import _run_guard
from kashgari_mlflow._tracking._queue import RunLogger
from kashgari_mlflow._tracking._retries import quick_retries


class FakeRun:
    def __init__(self, run_id: str = "run-1") -> None:
        self.run_id = run_id
        self.closed: list[tuple[str, str | None]] = []

    def abort(self, status: str, error: str | None = None, seconds: float | None = None) -> None:
        self.closed.append((status, error))
        _run_guard.forget(self)


@pytest.fixture
def run() -> Any:
    # Ctrl-C raises KeyboardInterrupt, as in a terminal: a shell without job control
    # starts background commands (`cmd &`, CI runners) with SIGINT ignored.
    outer_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        before = (sys.excepthook, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
        fake = FakeRun()
        _run_guard.watch(fake)
        yield fake
        _run_guard.forget(fake)
        after = (sys.excepthook, signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
        assert after == before
    finally:
        signal.signal(signal.SIGINT, outer_sigint)


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it() -> None:
    outer_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
    fake = FakeRun()
    try:
        _run_guard.watch(fake)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is _run_guard._on_sigterm
    finally:
        _run_guard.forget(fake)
        signal.signal(signal.SIGINT, outer_sigint)


def test_hooks_exist_only_while_a_run_is_watched(run: FakeRun) -> None:
    assert sys.excepthook is _run_guard._excepthook
    assert signal.getsignal(signal.SIGTERM) is _run_guard._on_sigterm
    assert signal.getsignal(signal.SIGINT) is _run_guard._on_sigint
    _run_guard.forget(run)
    assert sys.excepthook is not _run_guard._excepthook
    assert signal.getsignal(signal.SIGTERM) is not _run_guard._on_sigterm


def test_exit_before_the_training_ended_fails_the_run(run: FakeRun) -> None:
    _run_guard._at_exit()
    assert run.closed == [("FAILED", "the process exited before the training ended")]


def test_exit_after_a_ctrl_c_kills_the_run(run: FakeRun) -> None:
    with pytest.raises(KeyboardInterrupt):
        _run_guard._on_sigint(signal.SIGINT, None)
    _run_guard._at_exit()
    assert run.closed[0][0] == "KILLED"


def cell_result(error: BaseException | None) -> Any:
    """What IPython hands ``post_run_cell`` handlers (``ExecutionResult``)."""
    return SimpleNamespace(error_in_exec=error, error_before_exec=None)


def test_a_failing_cell_fails_the_run_and_a_passing_one_does_not(run: FakeRun) -> None:
    _run_guard._after_cell(SimpleNamespace(error_in_exec=None, error_before_exec=None))
    assert run.closed == []
    _run_guard._after_cell(
        SimpleNamespace(error_in_exec=ValueError("bad tag"), error_before_exec=None)
    )
    assert run.closed == [("FAILED", "ValueError: bad tag")]


def test_an_interrupted_cell_kills_the_run(run: FakeRun) -> None:
    _run_guard._after_cell(
        SimpleNamespace(error_in_exec=KeyboardInterrupt(), error_before_exec=None)
    )
    assert run.closed[0][0] == "KILLED"


def test_sigterm_kills_the_run_then_calls_the_previous_handler(monkeypatch: Any) -> None:
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        fake = FakeRun()
        _run_guard.watch(fake)
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)
        assert fake.closed == [("KILLED", "the process received SIGTERM")]
        assert calls == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is not _run_guard._on_sigterm  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_process_that_ignores_sigterm_keeps_ignoring_it() -> None:
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        fake = FakeRun()
        _run_guard.watch(fake)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        _run_guard.forget(fake)
    finally:
        signal.signal(signal.SIGTERM, previous)


# ------------------------------------------------------------------ quick retries
def test_quick_retries_change_no_environment_and_no_other_thread() -> None:
    environment = dict(os.environ)
    seen_elsewhere: list[int] = []
    with quick_retries(retries=0):
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 0
        worker = threading.Thread(
            target=lambda: seen_elsewhere.append(MLFLOW_HTTP_REQUEST_MAX_RETRIES.get())
        )
        worker.start()
        worker.join()
        with quick_retries():
            assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 3
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 0
        assert dict(os.environ) == environment
    assert seen_elsewhere == [7]  # MLflow's default, untouched in the other thread
    assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 7


def test_a_retry_setting_the_user_made_wins(monkeypatch: Any) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")
    with quick_retries(retries=0):
        assert MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 5


# ------------------------------------------------------------------ refused items
class RefusingClient:
    """A server that refuses the metric ``bad key`` for good (HTTP 400), or is down."""

    def __init__(self, down: int = 0) -> None:
        self.down = down
        self.logged: list[str] = []
        self.requests = 0

    def log_batch(
        self, run_id: str, metrics: Any = (), params: Any = (), tags: Any = (), **_: Any
    ) -> None:
        self.requests += 1
        if self.down:
            self.down -= 1
            raise ConnectionError("server unreachable")
        items = [*metrics, *params, *tags]
        if any(item.key == "bad key" for item in items):
            raise MlflowException.invalid_parameter_value("Invalid metric name: 'bad key'")
        self.logged.extend(item.key for item in items)


def test_a_refused_metric_is_dropped_with_a_warning_and_the_rest_is_sent() -> None:
    client = RefusingClient()
    sender = RunLogger(client, "run-1")
    sender.queue_metrics({"loss": 0.5, "bad key": 1.0, "val_loss": 0.7}, step=0)
    with pytest.warns(TrackingWarning, match="refused metric 'bad key'.*dropped"):
        assert sender.flush()
    assert client.logged == ["loss", "val_loss"] and sender.pending == 0
    sender.queue_metrics({"loss": 0.4}, step=1)
    assert sender.flush()  # nothing held back, no second warning
    assert client.logged[-1] == "loss"


def test_an_unreachable_server_keeps_everything_for_later() -> None:
    client = RefusingClient(down=1)
    sender = RunLogger(client, "run-1")
    sender.queue_metrics({"loss": 0.5, "val_loss": 0.7}, step=0)
    with pytest.warns(TrackingWarning, match="Training continues"):
        assert not sender.flush()
    assert sender.pending == 2 and client.logged == []
    assert sender.flush()
    assert client.logged == ["loss", "val_loss"]


def test_a_refused_metric_raises_when_strict() -> None:
    sender = RunLogger(RefusingClient(), "run-1", strict=True)
    sender.queue_metrics({"bad key": 1.0}, step=0)
    with pytest.raises(MlflowException, match="Invalid metric name"):
        sender.flush()
