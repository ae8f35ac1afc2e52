"""Log rows as an MLflow table, as ``MlflowClient.log_table`` does, without its listing.

MLflow's ``log_table`` lists the artifact folder to find an earlier table to
append to. Under MLflow 3 that listing also searches the experiment's logged
models by name (``RunsArtifactRepository.list_artifacts``): 0.7 s of the end of
a fit in a new process here, more than the rest of the error analysis. The run's
``mlflow.loggedArtifacts`` tag, which ``log_table`` sets after writing a table,
says the same thing in the one ``get_run`` the tag update needs anyway.

The file is what ``log_table`` writes (pandas' ``orient="split"`` JSON without
an index), so ``mlflow.load_table``, ``MlflowClient.load_table`` and the MLflow
UI read it, and a later ``log_table`` appends to it.
"""

from __future__ import annotations

import json
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
    that side, as pandas' ``concat`` leaves it.

    Args:
        client: An ``MlflowClient``.
        run_id: The run.
        rows: Dicts of JSON-serialisable values, one per table row.
        artifact_file: The table's path in the run's artifacts, ending ``.json``.
    """
    tags = client.get_run(run_id).data.tags
    listed = json.loads(tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
    entry = {"path": artifact_file, "type": "table"}
    columns: list[str] = []
    data: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        if entry in listed:
            earlier = client.download_artifacts(run_id, artifact_file, folder)
            with open(earlier, encoding="utf-8") as file:
                table = json.load(file)
            columns, data = list(table["columns"]), [list(row) for row in table["data"]]
        columns, data = _appended(columns, data, rows)
        local = os.path.join(folder, "new", posixpath.basename(artifact_file))
        os.makedirs(os.path.dirname(local))
        with open(local, "w", encoding="utf-8") as file:
            json.dump({"columns": columns, "data": data}, file)
        client.log_artifact(run_id, local, posixpath.dirname(artifact_file) or None)
    if entry not in listed:
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps([*listed, entry]))


def _appended(
    columns: list[str], data: list[list[Any]], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], list[list[Any]]]:
    """The table ``columns``/``data`` with ``rows`` after it (columns merged by name)."""
    new_columns = [key for row in rows for key in row]
    merged = list(dict.fromkeys([*columns, *new_columns]))
    widened = [row + [None] * (len(merged) - len(columns)) for row in data]
    return merged, widened + [[row.get(key) for key in merged] for row in rows]
