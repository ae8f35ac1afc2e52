"""Tables written without MLflow's ``log_table`` read back exactly as if it had written them."""

import json

import mlflow
import pytest

from kashgari_mlflow._tracking._tables import LOGGED_ARTIFACTS_TAG, log_table_rows

TABLE = "error_analysis/error_sentences.json"
FIRST = [
    {"sentence": "Ünïcode in Zürich", "gold": "location: Zürich", "error_count": 2, "epoch": 0},
    {"sentence": 'a "quoted" \\ line', "gold": "", "error_count": 1, "epoch": 0},
]
#: A model evaluation's rows have no epoch; a later version may add a column.
LATER = [{"sentence": "New York", "gold": "location: New York", "error_count": 1, "note": "x"}]
OTHER_TABLES = json.dumps([{"path": "t.json", "type": "table"}])


def _mlflow_log_table(client, run_id, rows, path):
    client.log_table(run_id, {key: [row[key] for row in rows] for key in rows[0]}, path)


def _loaded(client, run_id):
    experiment_id = client.get_run(run_id).info.experiment_id
    frame = client.load_table(experiment_id, TABLE, run_ids=[run_id])
    return json.loads(frame.to_json(orient="split", index=False))


def _no_constant(name):
    raise AssertionError(f"{name} is not JSON")


def _raw(client, run_id, tmp_path):
    """The table file as a browser reads it: strict JSON, every row as wide as the columns."""
    tmp_path.mkdir(parents=True, exist_ok=True)  # MLflow 2 does not make it
    path = client.download_artifacts(run_id, TABLE, str(tmp_path))
    with open(path, encoding="utf-8") as file:
        table = json.loads(file.read(), parse_constant=_no_constant)
    assert set(table) == {"columns", "data"}
    assert all(len(row) == len(table["columns"]) for row in table["data"])
    return table


@pytest.mark.parametrize(
    ("first_writer", "later_writer"),
    [("ours", "ours"), ("mlflow", "ours"), ("ours", "mlflow")],
)
def test_tables_read_back_as_mlflow_log_table_writes_them(
    tracking_uri, tmp_path, first_writer, later_writer
):
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("tables")
    writers = {"ours": log_table_rows, "mlflow": _mlflow_log_table}
    expected = client.create_run(experiment_id).info.run_id
    ours = client.create_run(experiment_id).info.run_id
    client.set_tag(expected, LOGGED_ARTIFACTS_TAG, OTHER_TABLES)
    client.set_tag(ours, LOGGED_ARTIFACTS_TAG, OTHER_TABLES)

    for rows in (FIRST, LATER):
        _mlflow_log_table(client, expected, rows, TABLE)
    writers[first_writer](client, ours, FIRST, TABLE)
    writers[later_writer](client, ours, LATER, TABLE)

    assert _loaded(client, ours) == _loaded(client, expected)
    raw = _raw(client, ours, tmp_path / "ours")
    assert raw["columns"] == _raw(client, expected, tmp_path / "expected")["columns"]
    rows = [dict(zip(raw["columns"], row, strict=True)) for row in raw["data"]]
    assert [row["sentence"] for row in rows] == [row["sentence"] for row in FIRST + LATER]
    assert [row["error_count"] for row in rows] == [2, 1, 1]
    assert [row["note"] for row in rows] == [None, None, "x"]
    tag = json.loads(client.get_run(ours).data.tags[LOGGED_ARTIFACTS_TAG])
    assert tag == json.loads(client.get_run(expected).data.tags[LOGGED_ARTIFACTS_TAG])
    assert tag == [{"path": "t.json", "type": "table"}, {"path": TABLE, "type": "table"}]


def test_neither_listing_nor_a_logged_model_search_is_needed(tracking_uri, monkeypatch):
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    calls = []

    def recorded(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"called {name}")

        return call

    for name in ("list_artifacts", "search_logged_models"):  # the latter: MLflow 3 only
        monkeypatch.setattr(mlflow.MlflowClient, name, recorded(name), raising=False)
    log_table_rows(client, run_id, FIRST, TABLE)
    log_table_rows(client, run_id, FIRST, TABLE)
    monkeypatch.undo()
    assert calls == []
    assert len(_loaded(client, run_id)["data"]) == 4


def test_non_finite_numbers_are_written_as_null(tracking_uri, tmp_path):
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id
    log_table_rows(client, run_id, [{"score": float("nan")}, {"score": float("inf")}], TABLE)
    assert _raw(client, run_id, tmp_path)["data"] == [[None], [None]]
