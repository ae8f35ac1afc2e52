"""Distributed training: only the chief worker logs, so one training makes one run."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._distributed import RANK_VARIABLES, worker_role

from .conftest import ROOT, fit_tiny

WORKERS_TIMEOUT = 180


def tf_config(task_type, index, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


WITH_CHIEF = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2", "127.0.0.1:3"]}


@pytest.mark.parametrize(
    ("environ", "chief", "description"),
    [
        ({}, True, "a single process"),
        ({"TF_CONFIG": tf_config("worker", 0)}, True, "TF_CONFIG task worker:0"),
        ({"TF_CONFIG": tf_config("worker", 1)}, False, "TF_CONFIG task worker:1"),
        ({"TF_CONFIG": tf_config("chief", 0, WITH_CHIEF)}, True, "TF_CONFIG task chief:0"),
        ({"TF_CONFIG": tf_config("worker", 0, WITH_CHIEF)}, False, "TF_CONFIG task worker:0"),
        ({"TF_CONFIG": tf_config("master", 0)}, True, "TF_CONFIG task master:0"),
        ({"TF_CONFIG": tf_config("ps", 0)}, False, "TF_CONFIG task ps:0"),
        ({"TF_CONFIG": tf_config("evaluator", 0)}, False, "TF_CONFIG task evaluator:0"),
        ({"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}}'}, True, "a single process"),
        ({"TF_CONFIG": "not json", "RANK": "3"}, False, "RANK=3"),
        ({"TF_CONFIG": tf_config("worker", 0), "RANK": "3"}, True, "TF_CONFIG task worker:0"),
        ({"HOROVOD_RANK": "0", "RANK": "5"}, True, "HOROVOD_RANK=0"),
        ({"HOROVOD_RANK": "2"}, False, "HOROVOD_RANK=2"),
        ({"OMPI_COMM_WORLD_RANK": "1"}, False, "OMPI_COMM_WORLD_RANK=1"),
        ({"PMI_RANK": "0"}, True, "PMI_RANK=0"),
        ({"PMIX_RANK": "4"}, False, "PMIX_RANK=4"),
        ({"RANK": "1"}, False, "RANK=1"),
        ({"RANK": "worker"}, True, "a single process"),  # not a number: ignored
        # Local ranks number processes within one machine: never read.
        ({"LOCAL_RANK": "1"}, True, "a single process"),
        ({"LOCAL_RANK": "0", "RANK": "2"}, False, "RANK=2"),
        ({"SLURM_PROCID": "1"}, True, "a single process"),
    ],
)
def test_worker_role_from_the_environment(environ, chief, description):
    role = worker_role(environ)
    assert (role.is_chief, role.description) == (chief, description)


class _Resolver:
    def __init__(self, task_type, task_id, cluster):
        self.task_type, self.task_id, self._cluster = task_type, task_id, cluster

    def cluster_spec(self):
        import tensorflow as tf

        return tf.train.ClusterSpec(self._cluster)


class _Strategy:
    def __init__(self, resolver):
        self.cluster_resolver = resolver


def test_the_strategys_cluster_resolver_wins_over_the_environment():
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    environ = {"TF_CONFIG": tf_config("worker", 0), "RANK": "0"}
    role = worker_role(environ, _Strategy(_Resolver("worker", 1, cluster)))
    assert (role.is_chief, role.description) == (False, "the distribution strategy's task worker:1")
    local = _Strategy(_Resolver(None, None, {}))  # MultiWorkerMirroredStrategy without a cluster
    assert worker_role({"RANK": "1"}, local).description == "RANK=1"


@pytest.fixture
def small_data(demo_data):
    train_x, train_y, dev_x, dev_y = demo_data
    return train_x[:64], train_y[:64], dev_x[:16], dev_y[:16]


@pytest.fixture
def no_distribution(monkeypatch):
    for name in ("TF_CONFIG", "KASHGARI_MLFLOW_LOG_ON_ALL_WORKERS", *RANK_VARIABLES):
        monkeypatch.delenv(name, raising=False)


def all_runs():
    return mlflow.search_runs(search_all_experiments=True, output_format="list")


def test_a_non_chief_worker_trains_but_logs_nothing(
    small_data, tracking_uri, monkeypatch, no_distribution, caplog
):
    monkeypatch.setenv("RANK", "1")
    callback = MlflowCallback(registered_model_name="never-registered", log_every_n_steps=1)
    with caplog.at_level(logging.INFO, logger="kashgari_mlflow.callbacks"):
        model = fit_tiny(small_data, [callback], epochs=2)
    assert len(model.tf_model.history.history["loss"]) == 2
    assert callback.active_run_id is None
    assert callback.model_info is None
    assert callback.inactive_reason.startswith("RANK=1 is not the chief worker")
    assert "MlflowCallback logs nothing in this process: RANK=1 is not the chief" in caplog.text
    assert all_runs() == []
    assert mlflow.MlflowClient().search_registered_models() == []


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_logging_on_all_workers_can_be_asked_for(
    small_data, tracking_uri, monkeypatch, no_distribution, how
):
    monkeypatch.setenv("RANK", "1")
    if how == "environment":
        monkeypatch.setenv("KASHGARI_MLFLOW_LOG_ON_ALL_WORKERS", "true")
    asked = True if how == "argument" else None
    callback = MlflowCallback(log_model=False, log_on_all_workers=asked)
    fit_tiny(small_data, [callback], epochs=1)
    (run,) = all_runs()
    assert run.info.run_id == callback.active_run_id
    assert run.info.status == "FINISHED"


def test_the_argument_wins_over_the_environment(
    small_data, tracking_uri, monkeypatch, no_distribution
):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("KASHGARI_MLFLOW_LOG_ON_ALL_WORKERS", "true")
    callback = MlflowCallback(log_model=False, log_on_all_workers=False)
    fit_tiny(small_data, [callback], epochs=1)
    assert all_runs() == []


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run_workers(tmp_path: Path, environments, arguments):
    """Start one ``tests._multi_worker`` process per environment; return their outputs."""
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in ("TF_CONFIG", "MLFLOW_TRACKING_URI", *RANK_VARIABLES)
    }
    base.update(
        PYTHONPATH=str(ROOT),
        TF_CPP_MIN_LOG_LEVEL="3",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
    )
    processes = []
    try:
        for index, environment in enumerate(environments):
            log = (tmp_path / f"worker{index}.log").open("wb")
            command = [sys.executable, "-m", "tests._multi_worker", "--output"]
            command += [str(tmp_path / f"worker{index}.json"), *arguments]
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=tmp_path,  # MLflow's default artifact root, ./mlruns, lands here
                    env={**base, **environment},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + WORKERS_TIMEOUT
        for index, process in enumerate(processes):
            try:
                code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = None
            if code != 0:
                tail = (tmp_path / f"worker{index}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"worker {index} ended with {code} (None: timed out):\n{tail}")
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(len(processes))]


# About 30 s on two cores: both workers train at once.
@pytest.mark.slow
def test_two_workers_under_multi_worker_mirrored_strategy_make_one_run(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    environments = [
        {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        for i in range(2)
    ]
    chief, other = _run_workers(tmp_path, environments, ["--strategy"])

    assert other["run_id"] is None
    assert other["inactive_reason"].startswith(
        "the distribution strategy's task worker:1 is not the chief worker"
    )
    assert chief["inactive_reason"] is None
    # One training: the workers saw the same all-reduced losses.
    assert chief["history"]["loss"] == pytest.approx(other["history"]["loss"])

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs(["0"])
    assert run.info.run_id == chief["run_id"]
    assert run.info.status == "FINISHED"
    for key in ("loss", "val_loss", "accuracy", "val_entity_f1"):
        steps = [metric.step for metric in client.get_metric_history(run.info.run_id, key)]
        assert sorted(steps) == [0, 1], key
    (model,) = client.search_logged_models(["0"])
    assert model.source_run_id == run.info.run_id
