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


def _mlflow_log_table(client, run_id, rows, path):
    client.log_table(run_id, {key: [row[key] for row in rows] for key in rows[0]}, path)


def _loaded(client, run_id):
    experiment_id = client.get_run(run_id).info.experiment_id
    frame = client.load_table(experiment_id, TABLE, run_ids=[run_id])
    return json.loads(frame.to_json(orient="split", index=False))


@pytest.mark.parametrize(
    ("first_writer", "later_writer"),
    [("ours", "ours"), ("mlflow", "ours"), ("ours", "mlflow")],
)
def test_tables_read_back_as_mlflow_log_table_writes_them(tracking_uri, first_writer, later_writer):
    client = mlflow.MlflowClient()
    experiment_id = client.create_experiment("tables")
    writers = {"ours": log_table_rows, "mlflow": _mlflow_log_table}
    expected = client.create_run(experiment_id).info.run_id
    ours = client.create_run(experiment_id).info.run_id
    client.set_tag(
        expected, LOGGED_ARTIFACTS_TAG, json.dumps([{"path": "t.json", "type": "table"}])
    )
    client.set_tag(ours, LOGGED_ARTIFACTS_TAG, json.dumps([{"path": "t.json", "type": "table"}]))

    for rows in (FIRST, LATER):
        _mlflow_log_table(client, expected, rows, TABLE)
    writers[first_writer](client, ours, FIRST, TABLE)
    writers[later_writer](client, ours, LATER, TABLE)

    assert _loaded(client, ours) == _loaded(client, expected)
    assert len(_loaded(client, ours)["data"]) == 3
    tag = json.loads(client.get_run(ours).data.tags[LOGGED_ARTIFACTS_TAG])
    assert tag == json.loads(client.get_run(expected).data.tags[LOGGED_ARTIFACTS_TAG])
    assert tag == [{"path": "t.json", "type": "table"}, {"path": TABLE, "type": "table"}]


def test_no_artifact_listing_is_needed(tracking_uri, monkeypatch):
    client = mlflow.MlflowClient()
    run_id = client.create_run("0").info.run_id

    def no_listing(*args, **kwargs):
        raise AssertionError("listed the artifacts")

    monkeypatch.setattr(mlflow.MlflowClient, "list_artifacts", no_listing)
    log_table_rows(client, run_id, FIRST, TABLE)
    log_table_rows(client, run_id, FIRST, TABLE)
    monkeypatch.undo()
    assert len(_loaded(client, run_id)["data"]) == 4
