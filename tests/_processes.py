"""What is still running: process groups, children, zombies (Linux ``/proc``, else signals)."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process."""
    processes = []
    for stat in PROC.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            processes.append((int(stat.parent.name), fields[0], int(fields[1]), int(fields[2])))
    return processes


def _signal_reaches(send: object, target: int) -> bool:
    try:
        send(target, 0)  # type: ignore[operator]
    except ProcessLookupError:
        return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting for its reaper does not)."""
    if not PROC.is_dir():
        return _signal_reaches(os.kill, pid)
    return any(found == pid and state != "Z" for found, state, _, _ in _processes())


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` runs (zombies do not count)."""
    if not PROC.is_dir():
        return _signal_reaches(os.killpg, pgid)
    return any(group == pgid and state != "Z" for _, state, _, group in _processes())


def child_pids(parent: int) -> list[int]:
    """Running children of ``parent`` (empty without ``/proc``)."""
    return [pid for pid, state, ppid, _ in _processes() if ppid == parent and state != "Z"]


def kill_group(pgid: int) -> None:
    """SIGKILL whatever is left of process group ``pgid``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
