"""A real ``mlflow server`` on 127.0.0.1 that tests can stop and restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests._processes import group_alive, kill_group


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MlflowServer:
    """``mlflow server`` with proxied artifacts under ``root``.

    The backend store is SQLite in ``root`` unless ``backend_store_uri`` names
    another (e.g. ``postgresql://...``). With ``default_artifact_root`` (e.g.
    ``mlflow-artifacts:/``) new experiments keep their artifacts behind the
    server's HTTP proxy, stored in ``root/artifacts``.
    """

    def __init__(
        self,
        root: Path,
        port: int | None = None,
        *,
        backend_store_uri: str | None = None,
        default_artifact_root: str | None = None,
        workers: int = 1,
    ) -> None:
        self.root = root
        self.port = port or free_port()
        self.backend_store_uri = backend_store_uri
        self.default_artifact_root = default_artifact_root
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "server.log"

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def artifacts(self) -> Path:
        """Where the server stores the artifacts it proxies."""
        return self.root / "artifacts"

    def start(self, timeout: float = 90.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        backend = self.backend_store_uri or f"sqlite:///{self.root / 'mlflow.db'}"
        command = [
            sys.executable, "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", backend,
            "--artifacts-destination", str(self.artifacts),
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.default_artifact_root is not None:
            command += ["--serve-artifacts", "--default-artifact-root", self.default_artifact_root]
        # MLflow 3's server also starts a job runner process (a second Python with
        # MLflow imported) for features no test uses.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer within {timeout} s: {self.tail()}")

    def tail(self, chars: int = 2000) -> str:
        """The end of the server's output (stdout and stderr)."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and its workers (its whole process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        # Workers can outlive the main process for a moment; none may keep the port.
        deadline = time.monotonic() + timeout
        while group_alive(self.process.pid):
            if time.monotonic() > deadline:
                kill_group(self.process.pid)
                break
            time.sleep(0.1)
