"""A shared tracking server: ``mlflow server`` on PostgreSQL, artifacts proxied over HTTP.

One PostgreSQL cluster and one server for the module. Training logs to it over
HTTP, models load back from it by run and by registry alias, and two
trainings in parallel processes share one experiment without mixing runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import mlflow
import pytest

from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._entities import is_internal_label
from tests._mlflow_server import MlflowServer
from tests._postgres import PostgresServer, find_postgres_bin
from tests._processes import group_alive, pid_alive
from tests.conftest import ROOT, fit_tiny

pytestmark = pytest.mark.slow

SENTENCES = [
    ["John", "lives", "in", "New", "York"],
    ["Mary", "works", "at", "Google", "in", "Paris", "."],
    ["Yesterday", "Angela", "Merkel", "flew", "from", "Berlin", "to", "Tokyo", "."],
    ["unseen", "words", "only"],
]
EPOCHS = 3
REGISTERED = "kashgari-ner-shared"
WORKERS = {
    "parallel-a": {"learning_rate": 0.02, "batch_size": 16, "epochs": 3, "embedding_size": 16},
    "parallel-b": {"learning_rate": 0.005, "batch_size": 32, "epochs": 4, "embedding_size": 24},
}
WORKER_SECONDS = 420


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def kashgari_tags(model: Any, sentences: list[list[str]]) -> list[list[str]]:
    return [["O" if is_internal_label(t) else t for t in tags] for tags in model.predict(sentences)]


def steps(client: mlflow.MlflowClient, run_id: str, key: str) -> list[int]:
    return sorted(metric.step for metric in client.get_metric_history(run_id, key))


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) are not on PATH or in "
            "/usr/lib/postgresql/*/bin; install them with .ci/install-postgres"
        )
        if in_ci():
            pytest.fail(f"{reason} (CI must run these tests, not skip them)")
        pytest.skip(reason)
    server = PostgresServer(bin_dir)
    server.start()
    yield server
    postmaster = server.process.pid if server.process else None
    server.stop()
    assert postmaster is None or not pid_alive(postmaster)


@pytest.fixture(scope="module")
def server(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    with pytest.MonkeyPatch.context() as env:
        # The job runner executes GenAI jobs, none here; it starts seven huey
        # consumer processes, which a two-core machine feels.
        env.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        env.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        server = MlflowServer(
            tmp_path_factory.mktemp("shared-server"),
            backend_store_uri=postgres.uri,
            default_artifact_root="mlflow-artifacts:/",
            workers=2,
        )
        # The first start against an empty database runs all schema migrations.
        server.start(timeout=240)
        previous = mlflow.get_tracking_uri()
        env.setenv("MLFLOW_TRACKING_URI", server.uri)
        mlflow.set_tracking_uri(server.uri)
        try:
            yield server
        finally:
            while mlflow.active_run():
                mlflow.end_run()
            mlflow.set_tracking_uri(previous)
            server.stop()
    assert server.process is not None and not group_alive(server.process.pid)


@pytest.fixture(scope="module")
def trained(server: MlflowServer, demo_data: Any) -> tuple[Any, str]:
    """A tiny model trained in this process, tracked and registered on the shared server."""
    import numpy as np
    import tensorflow as tf

    np.random.seed(3)
    tf.random.set_seed(3)
    # log_model="last": the logged weights are the ones this process predicts with.
    callback = MlflowCallback(
        experiment_name="shared-server",
        run_name="in-process",
        registered_model_name=REGISTERED,
        log_model="last",
        strict=True,
    )
    model = fit_tiny(demo_data, [callback], epochs=EPOCHS)
    assert callback.active_run_id is not None
    return model, callback.active_run_id


def test_training_logs_params_metrics_and_model_over_http(
    server: MlflowServer, postgres: PostgresServer, trained: tuple[Any, str]
) -> None:
    _, run_id = trained
    client = mlflow.MlflowClient(server.uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "in-process"
    assert run.data.params["epochs"] == str(EPOCHS)
    assert run.data.params["batch_size"] == "32"
    assert float(run.data.params["optimizer.learning_rate"]) == pytest.approx(0.02)
    assert run.data.params["model.class"] == "BiLSTM_CRF_Model"
    for key in ("loss", "val_loss", "val_entity_f1", "learning_rate"):
        assert steps(client, run_id, key) == list(range(EPOCHS)), key

    # Artifacts go through the server's proxy: the client never sees a file path.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    logged = {item.path for item in client.list_artifacts(run_id, "entity_report")}
    assert logged == {"entity_report/report.json", "entity_report/report.txt"}
    model_info = mlflow.models.get_model_info(f"runs:/{run_id}/model")
    assert "kashgari" in model_info.flavors
    assert model_info.run_id == run_id
    assert list(server.artifacts.rglob("MLmodel")), "the server stored no model"

    # The run lives in PostgreSQL.
    with closing(postgres.connect()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name, status FROM runs WHERE run_uuid = %s", (run_id,))
        assert cursor.fetchall() == [("in-process", "FINISHED")]
        cursor.execute("SELECT count(*) FROM params WHERE run_uuid = %s", (run_id,))
        assert cursor.fetchone() == (len(run.data.params),)


def test_model_loads_back_by_run_and_by_registry_alias(
    server: MlflowServer, trained: tuple[Any, str]
) -> None:
    model, run_id = trained
    expected = kashgari_tags(model, SENTENCES)
    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    assert [answer["tags"] for answer in by_run.predict(SENTENCES)] == expected

    client = mlflow.MlflowClient(server.uri)
    (version,) = client.search_model_versions(f"name = '{REGISTERED}'")
    assert version.run_id == run_id
    client.set_registered_model_alias(REGISTERED, "champion", version.version)
    assert client.get_model_version_by_alias(REGISTERED, "champion").version == version.version
    by_alias = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion")
    assert [answer["tags"] for answer in by_alias.predict(SENTENCES)] == expected


def test_parallel_trainings_share_an_experiment_without_mixing(
    server: MlflowServer, demo_data: Any, tmp_path: Path
) -> None:
    experiment = "shared-server-parallel"
    client = mlflow.MlflowClient(server.uri)
    # As on a team server, the experiment exists before the runs: MlflowCallback
    # looks it up and creates it when missing, two steps that two first runs
    # starting in the same instant could interleave.
    experiment_id = client.create_experiment(experiment)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    for seed, (name, config) in enumerate(WORKERS.items(), start=1):
        log = tmp_path / f"{name}.log"
        command = [
            sys.executable, "-m", "tests._train_worker", "--experiment", experiment,
            "--run-name", name, "--seed", str(seed), "--barrier", str(barrier),
            "--peers", str(len(WORKERS)), "--output", str(tmp_path / f"{name}.json"),
        ]  # fmt: skip
        for key, value in config.items():
            command += [f"--{key.replace('_', '-')}", str(value)]
        with open(log, "wb") as out:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        workers[name] = (process, log)
    deadline = time.monotonic() + WORKER_SECONDS
    try:
        for name, (process, log) in workers.items():
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not finish within {WORKER_SECONDS} s: {tail(log)}")
            assert process.returncode == 0, f"{name} failed: {tail(log)}"
    finally:
        for process, _ in workers.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    runs = {run.info.run_name: run for run in client.search_runs([experiment_id])}
    assert set(runs) == set(WORKERS)
    first, second = runs.values()
    assert first.info.start_time < second.info.end_time, "the trainings did not overlap"
    assert second.info.start_time < first.info.end_time, "the trainings did not overlap"

    _, _, dev_x, _ = demo_data
    for name, config in WORKERS.items():
        result = json.loads((tmp_path / f"{name}.json").read_text())
        run = runs[name]
        run_id = run.info.run_id
        assert result["run_id"] == run_id
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert float(params["optimizer.learning_rate"]) == pytest.approx(config["learning_rate"])
        assert params["batch_size"] == str(config["batch_size"])
        assert params["epochs"] == str(config["epochs"])
        assert params["embedding.embedding_size"] == str(config["embedding_size"])
        for key in ("loss", "val_loss", "val_entity_f1", "learning_rate"):
            assert steps(client, run_id, key) == list(range(config["epochs"])), (name, key)
        rates = client.get_metric_history(run_id, "learning_rate")
        assert {round(m.value, 6) for m in rates} == {config["learning_rate"]}, name

        pyfunc = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
        assert pyfunc.metadata.run_id == run_id
        answers = pyfunc.predict(dev_x)
        assert [answer["tags"] for answer in answers] == result["tags"], name


def tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""
