"""Where a benchmark's raw results go: one JSON file with the command and the machine."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def write_raw_results(path: Path, script: str, load_average: Any, **results: Any) -> None:
    """Write ``results`` to ``path`` after the command that made them and the machine.

    Args:
        path: The JSON file (its folder is created).
        script: The benchmark's path from the repository root, for the command line.
        load_average: ``os.getloadavg()`` taken before the run.
        results: Everything else: data, settings, every measurement, the printed table.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": " ".join(["python", script, *sys.argv[1:]]),
        "machine": {
            "cores": os.cpu_count(),
            "load_average_before": load_average,
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **results,
    }
    path.write_text(json.dumps(payload, indent=1) + "\n")
