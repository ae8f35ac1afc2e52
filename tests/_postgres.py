"""A throwaway PostgreSQL server on 127.0.0.1, for tests that need a real database."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests._mlflow_server import free_port
from tests._processes import child_pids, pid_alive

TOOLS = ("initdb", "pg_ctl", "postgres")


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: from PATH, else Debian's.

    Debian installs the server binaries under ``/usr/lib/postgresql/<major>/bin``,
    which is not on PATH; the newest major version wins.
    """
    folders: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        folders.append(Path(on_path).resolve().parent)
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    folders += sorted(debian, key=lambda bin_dir: _major(bin_dir.parent.name), reverse=True)
    for folder in folders:
        if all(os.access(folder / tool, os.X_OK) for tool in TOOLS):
            return folder
    return None


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, or as root a system user (``initdb`` refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("Running as root and neither a 'postgres' nor a 'nobody' user exists.")


class PostgresServer:
    """A fresh cluster in a temporary folder, listening on 127.0.0.1 only, trust auth.

    Args:
        bin_dir: Folder with ``initdb``, ``pg_ctl`` and ``postgres`` (found when omitted).
        user: Superuser role the cluster is created with.
        database: Database created once the server is up.
    """

    def __init__(
        self, bin_dir: Path | None = None, user: str = "mlflow", database: str = "mlflow"
    ) -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found.")
        self.bin_dir = found
        self.user = user
        self.database = database
        self.port = free_port()
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._owner = _unprivileged_user()

    @property
    def uri(self) -> str:
        """SQLAlchemy URI of the database, naming psycopg2 as the driver.

        SQLAlchemy 2.1 made psycopg 3 the default driver of ``postgresql://``;
        the dev environment has ``psycopg2-binary``.
        """
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def log(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster, start the server, wait until it answers, create the database."""
        # Not pytest's tmp_path: that folder is private to root, and a Unix socket
        # path must stay under 108 bytes (sockaddr_un.sun_path).
        self.root = Path(tempfile.mkdtemp(prefix="kashgari-mlflow-pg-"))
        (self.root / "socket").mkdir()
        if self._owner is not None:
            for path in (self.root, self.root / "socket"):
                os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.root / "data"), "-U", self.user, "--auth=trust",
            "--no-locale", "--encoding=UTF8", "--no-sync", timeout=timeout,
        )  # fmt: skip
        command = [
            str(self.bin_dir / "postgres"), "-D", str(self.root / "data"),
            "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
            "-k", str(self.root / "socket"),
            # A test database: durability buys nothing and costs seconds.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                **self._as_owner(),
            )  # fmt: skip
        try:
            self._wait_and_create_database(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_and_create_database(self, timeout: float) -> None:
        import psycopg2

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited ({self.process.returncode}): {self.tail()}")
            try:
                connection = psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=self.user, dbname="postgres",
                    connect_timeout=2,
                )  # fmt: skip
                break
            except psycopg2.OperationalError as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"postgres did not accept connections within {timeout} s ({err}): "
                        f"{self.tail()}"
                    ) from err
                time.sleep(0.2)
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            connection.close()

    def connect(self) -> Any:
        """A psycopg2 connection to the test database."""
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=self.database
        )

    def tail(self, chars: int = 3000) -> str:
        if self.root is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (``pg_ctl stop -m fast``), kill what is left, remove the cluster."""
        if self.process is not None:
            # Each backend calls setsid(): killing the postmaster's group misses them.
            children = child_pids(self.process.pid)
            if self.process.poll() is None:
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._run(
                        "pg_ctl", "stop", "-D", str(self.root / "data"), "-m", "fast", "-w",
                        "-t", str(int(timeout)), timeout=timeout + 5,
                    )  # fmt: skip
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=timeout)
            deadline = time.monotonic() + timeout
            while (alive := [pid for pid in children if pid_alive(pid)]) and (
                time.monotonic() < deadline
            ):
                time.sleep(0.1)
            for pid in alive:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _run(self, tool: str, *args: str, timeout: float) -> None:
        answer = subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True, text=True, timeout=timeout, **self._as_owner(),
        )  # fmt: skip
        if answer.returncode != 0:
            raise RuntimeError(f"{tool} failed ({answer.returncode}): {answer.stderr[-2000:]}")

    def _as_owner(self) -> dict[str, Any]:
        """Popen arguments that run a server tool as the cluster's owner, from its folder."""
        env = {**os.environ, "LC_ALL": "C"}
        if self._owner is None:
            return {"cwd": self.root, "env": env}
        env.update(HOME=self._owner.pw_dir, USER=self._owner.pw_name)
        return {
            "cwd": self.root,
            "env": env,
            "user": self._owner.pw_uid,
            "group": self._owner.pw_gid,
            "extra_groups": [],
        }
