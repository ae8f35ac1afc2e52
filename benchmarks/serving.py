"""A ``mlflow models serve`` process for the benchmark: start, post batches, peak memory, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``mlflow models serve --env-manager local`` on 127.0.0.1 for a local model folder."""

    def __init__(self, model_dir: Path, log: Path, workers: int = 1) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir),
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(workers),
        ]  # fmt: skip
        self.log = log
        self.workers = workers
        self._log_start = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as handle:
            self.process = subprocess.Popen(
                command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until every worker has loaded the model and /ping answers.

        /ping answers as soon as one worker is up; uvicorn logs "Application
        startup complete." once per worker, after the model is loaded.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited: {self.log.read_text()[-2000:]}")
            log = self.log.read_text(errors="replace")[self._log_start :]
            if log.count("Application startup complete.") >= self.workers:
                try:
                    with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as answer:
                        if answer.status == 200:
                            return
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            time.sleep(0.5)
        raise RuntimeError(f"mlflow models serve did not answer within {timeout} s")

    def predict(self, sentences: list[str]) -> list[dict[str, Any]]:
        # No params: the model's default batch_size is 64 (kashgari_mlflow._pyfunc.DEFAULT_BATCH_SIZE).
        body = json.dumps({"inputs": sentences}).encode()
        request = urllib.request.Request(
            f"{self.url}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=300) as answer:
            predictions: list[dict[str, Any]] = json.loads(answer.read())["predictions"]
            return predictions

    def peak_rss_mb(self) -> list[tuple[str, float]]:
        """VmHWM (MB) of each process of the server, with its role.

        ``mlflow models serve`` is a Python process (the CLI) that starts
        ``uvicorn``; with ``--workers 1`` uvicorn loads the model and serves in
        its own process, with more it supervises one spawned worker per model copy.
        """
        peaks = []
        for pid in _process_tree(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if pid == self.process.pid:
                role = "mlflow CLI"
            elif "multiprocessing" in command:
                role = "worker" if "resource_tracker" not in command else "resource tracker"
            elif "uvicorn" in command:
                role = "uvicorn"
            else:
                role = command.split(" ", 1)[0].rsplit("/", 1)[-1] or "other"
            peaks.append((role, vm_hwm_kb(pid) / 1024))
        return peaks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


def throughput(
    server: Server, sentences: list[str], batch: int = 64, clients: int = 4
) -> tuple[float, list[float], list[dict[str, Any]]]:
    """Post ``sentences`` in batches from ``clients`` threads: (wall s, latencies, answers)."""
    batches = [sentences[i : i + batch] for i in range(0, len(sentences), batch)]
    latencies: list[float] = [0.0] * len(batches)

    def post(index: int) -> list[dict[str, Any]]:
        start = time.perf_counter()
        answer = server.predict(batches[index])
        latencies[index] = time.perf_counter() - start
        return answer

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        answers = list(pool.map(post, range(len(batches))))
    wall = time.perf_counter() - start
    return wall, latencies, [item for answer in answers for item in answer]


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def vm_hwm_kb(pid: int) -> int:
    """Peak resident set size (VmHWM) of a process, in kB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
