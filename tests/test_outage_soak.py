"""Tracking outage soak: a 5-epoch fit logs through a faulty proxy while the server restarts.

``MlflowCallback()`` logs to a real ``mlflow server`` through
:class:`tests._fault_proxy.FaultProxy`, which answers some requests with 503
(with and without ``Retry-After``), delays some, and drops some connections
before or after the server has acted on them. Each epoch's metrics flush meets
a chosen fault, the server is stopped after epoch 2 and restarted (in the
background, training goes on) after epoch 3, and random faults hit the rest,
the start of the run and the model upload included. Afterwards every epoch
metric must be in the store exactly once per step, the params and the model
complete, and the run ``FINISHED``.

What the faults cost in time is measured by ``benchmarks/outage_soak.py``, with
this harness, longer epochs and a clean baseline. Run the test with
``uv run pytest -m slow tests/test_outage_soak.py -s`` to see its figures.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import tensorflow as tf

from kashgari_mlflow import MlflowCallback, TrackingWarning

from ._fault_proxy import (
    DELAY,
    DROP_AFTER,
    DROP_BEFORE,
    FAULTS,
    UNAVAILABLE,
    UNAVAILABLE_RETRY_AFTER,
    FaultProxy,
)
from ._mlflow_server import MlflowServer
from .conftest import make_tiny_model

# A real server, three trainings and a restart: minutes, so run with -m slow.
pytestmark = pytest.mark.slow

EPOCHS = 5
#: Seconds of (simulated) training per epoch on top of the real batches, so that
#: background flushes and the server's restart overlap training.
EPOCH_SECONDS = 2.0
STOP_AFTER_EPOCH, RESTART_AFTER_EPOCH = 2, 3
#: The fault the metrics flush of each epoch meets (the proxy's next request).
EPOCH_FAULTS = {0: UNAVAILABLE, 1: DROP_AFTER, 3: UNAVAILABLE_RETRY_AFTER, 4: DELAY}
#: Chance of a fault for every other request (run start, params, model upload...).
RANDOM_FAULTS = {
    UNAVAILABLE: 0.03,
    UNAVAILABLE_RETRY_AFTER: 0.03,
    DELAY: 0.03,
    DROP_BEFORE: 0.015,
    DROP_AFTER: 0.015,
}
SEED = 17


class SlowEpochs(tf.keras.callbacks.Callback):
    """Spreads ``seconds`` of sleep over each epoch's batches (a bigger model's work)."""

    def __init__(self, seconds: float = EPOCH_SECONDS) -> None:
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        time.sleep(self.seconds / self.params["steps"])


class Faults(tf.keras.callbacks.Callback):
    """Runs before ``MlflowCallback``: queues each epoch's fault, stops and restarts the server.

    The time this harness spends stopping the server and, at the end of
    training, waiting for the restart to finish is the outage itself, not the
    callback's doing; it is kept in ``harness_seconds`` and left out of the
    benchmark's comparison. Epoch 4 trains while the server boots.
    """

    def __init__(self, proxy: FaultProxy, server: MlflowServer) -> None:
        super().__init__()
        self.proxy, self.server = proxy, server
        self.harness_seconds = 0.0
        self.restart: threading.Thread | None = None
        self.restart_error: BaseException | None = None
        self.restart_seconds = 0.0

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch in EPOCH_FAULTS:
            self.proxy.inject(EPOCH_FAULTS[epoch])
        if epoch == STOP_AFTER_EPOCH:
            started = time.monotonic()
            self.server.stop()
            self.harness_seconds += time.monotonic() - started
        if epoch == RESTART_AFTER_EPOCH:
            self.restart = threading.Thread(target=self._restart, name="mlflow-server-restart")
            self.restart.start()

    def on_train_end(self, logs: Any = None) -> None:
        if self.restart is not None:
            started = time.monotonic()
            self.restart.join()
            self.harness_seconds += time.monotonic() - started

    def _restart(self) -> None:
        started = time.monotonic()
        try:
            self.server.start()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.restart_error = err
        self.restart_seconds = time.monotonic() - started


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path / "server")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(server: MlflowServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy(server.uri, probabilities=RANDOM_FAULTS, seed=SEED, retry_after=1)
    proxy.start()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(proxy.url)
    yield proxy
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous)
    proxy.stop()


def fit(data: Any, callbacks: list[Any], epochs: int = EPOCHS) -> float:
    """Wall time of one ``fit`` of a new tiny model."""
    train_x, train_y, dev_x, dev_y = data
    tf.random.set_seed(3)
    model = make_tiny_model(data=(train_x, train_y))
    started = time.monotonic()
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=32, epochs=epochs,
        callbacks=callbacks, fit_kwargs={"verbose": 0},
    )  # fmt: skip
    return time.monotonic() - started


def epoch_metric_keys(callback: MlflowCallback) -> dict[str, dict[int, float]]:
    """The per-epoch metrics the callback computed: key -> {step: value}."""
    history = {key: dict(points) for key, points in callback._history.items()}
    assert all(len(points) == EPOCHS for points in history.values()), history
    return history


def test_fit_survives_faults_and_a_server_restart_without_losing_or_repeating(
    demo_data: Any, server: MlflowServer, proxy: FaultProxy
) -> None:
    client = mlflow.MlflowClient(server.uri)  # straight to the server, never faulted
    with proxy.paused():
        clean = MlflowCallback(experiment_name="soak-clean")
        fit(demo_data, [clean])
        assert proxy.total_faults() == 0

    faulty = MlflowCallback(experiment_name="soak-faults")
    harness = Faults(proxy, server)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(demo_data, [SlowEpochs(), harness, faulty])
    proxy.enabled = False
    assert harness.restart_error is None, harness.restart_error
    tracking_warnings = [str(w.message) for w in caught if issubclass(w.category, TrackingWarning)]

    run = client.get_run(faulty.active_run_id)
    expected = epoch_metric_keys(faulty)
    found = {key: client.get_metric_history(run.info.run_id, key) for key in expected}
    clean_run = client.get_run(clean.active_run_id)
    models = client.search_logged_models([run.info.experiment_id])
    print_figures(proxy, expected, found, clean_run, run, tracking_warnings, models)

    assert run.info.status == "FINISHED"
    assert {"loss", "val_loss", "val_entity_f1", "val_entity_f1/PER"} <= set(expected)
    for key, values in expected.items():
        points = sorted((m.step, m.value) for m in found[key])
        assert points == sorted(values.items()), key  # each step once, with its own value
    assert set(expected) | {"best_epoch", "best_val_entity_f1"} == set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "best_epoch")) == 1
    assert run.data.params == clean_run.data.params
    assert run.data.tags["versions.kashgari"] == clean_run.data.tags["versions.kashgari"]
    (only_run,) = client.search_runs([run.info.experiment_id])
    assert only_run.info.run_id == run.info.run_id
    assert not [m for m in tracking_warnings if "saved to" in m], tracking_warnings
    assert len(run.inputs.dataset_inputs) == len(clean_run.inputs.dataset_inputs) == 2

    mlflow.set_tracking_uri(server.uri)
    (answer,) = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(["John"])
    assert len(answer["tags"]) == 1
    assert proxy.total_faults() >= len(EPOCH_FAULTS)


def print_figures(
    proxy: FaultProxy,
    expected: dict[str, dict[int, float]],
    found: dict[str, list[Any]],
    clean_run: Any,
    run: Any,
    tracking_warnings: list[str],
    models: list[Any],
) -> None:
    """The soak's figures (``-s`` shows them; docs/reliability.md quotes them)."""
    print()
    print(f"requests through the proxy: {proxy.requests} ({proxy.upstream_down} while down)")
    print("faults injected: " + ", ".join(f"{k}: {proxy.faults[k]}" for k in FAULTS))
    print(f"faults injected in all: {proxy.total_faults()}")
    for number, method, path, fault in proxy.log:
        print(f"  request {number:3d} {method:5s} {path.split('?')[0]:60.60s} {fault}")
    print(f"metric keys per epoch: {len(expected)}, epochs: {EPOCHS}")
    print(f"metric points expected: {len(expected) * EPOCHS}")
    print(f"metric points found: {sum(len(points) for points in found.values())}")
    print(f"params: clean run {len(clean_run.data.params)}, faulty run {len(run.data.params)}")
    print(f"tracking warnings: {len(tracking_warnings)}")
    for message in tracking_warnings:
        print(f"  {message[:160]}")
    print(f"logged models: {len(models)}, datasets: {len(run.inputs.dataset_inputs)}")
