"""Log rows as an MLflow table, as ``MlflowClient.log_table`` does, without its listing.

MLflow's ``log_table`` lists the artifact folder to find an earlier table to
append to, and under MLflow 3 listing or downloading through the run
(``RunsArtifactRepository``) also searches the experiment's logged models by
name. The run's ``mlflow.loggedArtifacts`` tag, which ``log_table`` sets after
writing a table, says whether there is one; an earlier table is read from the
run's own artifact location.

The file is in the format ``log_table`` writes (pandas' ``orient="split"`` JSON
without an index), so ``mlflow.load_table``, ``MlflowClient.load_table``, the
MLflow UI and a later ``log_table`` read and extend it. A table file that the
tag does not list is replaced, not appended to.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

#: The run tag listing a run's tables (``mlflow.utils.mlflow_tags.MLFLOW_LOGGED_ARTIFACTS``).
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"


def log_table_rows(
    client: Any, run_id: str, rows: Sequence[Mapping[str, Any]], artifact_file: str
) -> None:
    """Write ``rows`` to the run's table ``artifact_file``, after the rows it already has.

    Columns are matched by name; a column one side lacks is empty (``null``) on
    that side, as pandas' ``concat`` leaves it, and so is a NaN or infinite float.

    Args:
        client: An ``MlflowClient``.
        run_id: The run.
        rows: Dicts of JSON-serialisable values, one per table row.
        artifact_file: The table's path in the run's artifacts, ending ``.json``.
    """
    from mlflow.artifacts import download_artifacts

    run = client.get_run(run_id)
    entry = {"path": artifact_file, "type": "table"}
    columns: list[str] = []
    data: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        if entry in _listed_tables(run):
            earlier = download_artifacts(
                artifact_uri=f"{run.info.artifact_uri.rstrip('/')}/{artifact_file}",
                dst_path=folder,
            )
            with open(earlier, encoding="utf-8") as file:
                table = json.load(file)
            columns, data = list(table["columns"]), [list(row) for row in table["data"]]
        columns, data = _appended(columns, data, rows)
        local = os.path.join(folder, "new", posixpath.basename(artifact_file))
        os.makedirs(os.path.dirname(local))
        with open(local, "w", encoding="utf-8") as file:
            json.dump({"columns": columns, "data": data}, file, allow_nan=False)
        client.log_artifact(run_id, local, posixpath.dirname(artifact_file) or None)
    listed = _listed_tables(client.get_run(run_id))  # as it is now, not before the upload
    if entry not in listed:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))


def _listed_tables(run: Any) -> list[Any]:
    listed: list[Any] = json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    return listed


def _appended(
    columns: list[str], data: list[list[Any]], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[list[Any]]]:
    """The table ``columns``/``data`` with ``rows`` after it (columns merged by name)."""
    new_columns = [key for row in rows for key in row]
    merged = list(dict.fromkeys([*columns, *new_columns]))
    widened = [[*map(_cell, row), *[None] * (len(merged) - len(columns))] for row in data]
    return merged, widened + [[_cell(row.get(key)) for key in merged] for row in rows]


def _cell(value: Any) -> Any:
    """``value`` as pandas writes it: a NaN or infinite float becomes ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
