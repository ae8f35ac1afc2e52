"""A real ``mlflow models serve`` on 127.0.0.1 that tests post JSON to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests._mlflow_server import free_port


class ModelServer:
    """``mlflow models serve --env-manager local`` for the model at ``model_uri``."""

    def __init__(
        self, model_uri: str, log: Path, workers: int = 1, python: str = sys.executable
    ) -> None:
        self.model_uri = model_uri
        self.python = python
        self.port = free_port()
        self.log = log
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        command = [
            self.python, "-m", "mlflow", "models", "serve",
            "-m", self.model_uri, "--env-manager", "local",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip
        # uvicorn must be on PATH: the one next to the serving python.
        path = f"{Path(self.python).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": path}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited: {self.tail()}")
            if self.is_up():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow models serve did not answer within {timeout} s: {self.tail()}")

    def is_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def post(
        self, body: Any, *, raw: bytes | None = None, timeout: float = 60.0
    ) -> tuple[int, Any]:
        """POST ``body`` as JSON (or ``raw`` bytes) to /invocations: (status, parsed answer)."""
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/invocations", data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
