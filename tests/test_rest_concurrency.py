"""Eight clients at once get the same answers one client gets, with the latencies printed.

Run with ``uv run pytest -m slow tests/test_rest_concurrency.py -s``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._model_server import ModelServer

pytestmark = pytest.mark.slow

CLIENTS = 8
REQUESTS_PER_CLIENT = 20
SENTENCES_PER_REQUEST = 4


@pytest.fixture(scope="module")
def server(saved_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    running = ModelServer(str(saved_model_dir), tmp_path_factory.mktemp("conc") / "serve.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _bodies(dev_x: list[list[str]]) -> list[dict[str, Any]]:
    """Twenty requests of four distinct dev sentences each."""
    return [
        {"inputs": [dev_x[(SENTENCES_PER_REQUEST * i + k) % len(dev_x)] for k in range(4)]}
        for i in range(REQUESTS_PER_CLIENT)
    ]


def _timed_post(server: ModelServer, body: dict[str, Any]) -> tuple[float, int, Any]:
    start = time.perf_counter()
    status, answer = server.post(body, timeout=300)
    return time.perf_counter() - start, status, answer


def _summary(label: str, latencies: list[float], wall: float) -> str:
    requests = len(latencies)
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    return (
        f"{label:<12}{requests:>9}{p50:>10.1f}{p99:>10.1f}"
        f"{requests / wall:>12.1f}{requests * SENTENCES_PER_REQUEST / wall:>13.1f}"
    )


def test_eight_clients_get_the_answers_one_client_gets(server, demo_data):
    bodies = _bodies(demo_data[2])
    for body in bodies[:2]:  # warm-up: the first request traces the graph
        assert server.post(body, timeout=300)[0] == 200

    reference: list[Any] = []
    single: list[float] = []
    wall_start = time.perf_counter()
    for body in bodies:
        latency, status, answer = _timed_post(server, body)
        assert status == 200, answer
        reference.append(answer)
        single.append(latency)
    single_wall = time.perf_counter() - wall_start

    barrier = threading.Barrier(CLIENTS)
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    problems: list[str] = []

    def client(number: int) -> None:
        barrier.wait()
        for step in range(REQUESTS_PER_CLIENT):
            index = (step + number * 3) % REQUESTS_PER_CLIENT  # clients send different requests
            try:
                latency, status, answer = _timed_post(server, bodies[index])
            except Exception as error:  # noqa: BLE001 - collected and reported below
                problems.append(f"client {number} request {index}: {error!r}")
                continue
            latencies[number].append(latency)
            if status != 200 or answer != reference[index]:
                problems.append(f"client {number} request {index}: {status} {answer!r:.300}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    wall_start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    concurrent_wall = time.perf_counter() - wall_start

    assert not any(thread.is_alive() for thread in threads)
    assert not problems, problems[:5]
    flat = [latency for per_client in latencies for latency in per_client]
    assert len(flat) == CLIENTS * REQUESTS_PER_CLIENT
    assert server.is_up()

    print(f"\n\nREST latency, {SENTENCES_PER_REQUEST} sentences per request")
    print(f"{'clients':<12}{'requests':>9}{'p50 ms':>10}{'p99 ms':>10}{'requests/s':>12}"
          f"{'sentences/s':>13}")  # fmt: skip
    print(_summary("1 (seq.)", single, single_wall))
    print(_summary(f"{CLIENTS}", flat, concurrent_wall))
