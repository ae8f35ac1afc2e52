"""Run reuse and ownership (``TrackedRun``) against a quick SQLite store, no training."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import mlflow
import pytest

from kashgari_mlflow._tracking import _run_guard
from kashgari_mlflow._tracking._runs import TrackedRun, abort_open_runs

from .conftest import store_copy


def status(run_id: str) -> str:
    return str(mlflow.MlflowClient().get_run(run_id).info.status)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory, empty_store_template: Path) -> Any:
    """One SQLite store for the module (runs are independent), a copy of the migrated one."""
    uri = store_copy(empty_store_template, tmp_path_factory.mktemp("runs"))
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri("")


@pytest.fixture(autouse=True)
def _restore_excepthook(tracking_uri: str) -> Any:
    previous = sys.excepthook
    yield
    _run_guard.abort_all("FAILED")  # a test that left a run open closes it here
    sys.excepthook = previous
    while mlflow.active_run() is not None:
        mlflow.end_run()


def test_the_active_run_is_reused_tagged_and_left_open(tracking_uri: str) -> None:
    with mlflow.start_run() as active:
        run = TrackedRun.open(tags={"team": "nlp"})
        assert run.run_id == active.info.run_id and not run.owned
        assert run.is_open  # watched, to be tagged if its fit fails
        run.end_training()
        assert not run.is_open
        assert mlflow.active_run() is not None
        assert status(active.info.run_id) == "RUNNING"
        tags = mlflow.MlflowClient().get_run(run.run_id).data.tags
        assert tags["team"] == "nlp" and tags["kashgari_mlflow.fit_status"] == "FINISHED"


def test_without_an_active_run_we_start_one_and_end_it(tracking_uri: str) -> None:
    run = TrackedRun.open(experiment_name="ner", run_name="first")
    assert run.owned and run.is_open and not run.train_ended
    info = mlflow.MlflowClient().get_run(run.run_id).info
    assert info.run_name == "first"
    assert mlflow.get_experiment(info.experiment_id).name == "ner"
    run.end_training()
    assert run.train_ended and not run.is_open
    assert status(run.run_id) == "FINISHED"
    assert mlflow.active_run() is None


def test_nested_starts_a_child_of_the_active_run_and_ends_only_the_child(
    tracking_uri: str,
) -> None:
    with mlflow.start_run() as parent:
        run = TrackedRun.open(nested=True)
        assert run.owned and run.run_id != parent.info.run_id
        tags = mlflow.MlflowClient().get_run(run.run_id).data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        run.end_training()
        assert status(run.run_id) == "FINISHED"
        assert mlflow.active_run().info.run_id == parent.info.run_id
        assert status(parent.info.run_id) == "RUNNING"


def test_run_id_resumes_that_run_and_owns_it_for_this_fit(tracking_uri: str) -> None:
    with mlflow.start_run() as earlier:
        pass
    run = TrackedRun.open(run_id=earlier.info.run_id)
    assert run.run_id == earlier.info.run_id and run.owned
    assert status(run.run_id) == "RUNNING"
    run.end_training()
    assert status(run.run_id) == "FINISHED"


def test_a_failed_fit_leaves_our_run_failed_and_never_ends_a_users_run(
    tracking_uri: str,
) -> None:
    ours = TrackedRun.open()
    mlflow.end_run()  # no longer the active run: abort must end it through the client
    mlflow.MlflowClient().update_run(ours.run_id, status="RUNNING")
    with mlflow.start_run() as users:
        theirs = TrackedRun.open()
        abort_open_runs("FAILED")
        theirs.abort("FAILED")  # a run we did not start is never ended, only tagged
        assert status(users.info.run_id) == "RUNNING"
        tags = mlflow.MlflowClient().get_run(users.info.run_id).data.tags
        assert tags["kashgari_mlflow.fit_status"] == "FAILED"
    assert status(ours.run_id) == "FAILED"
    assert not ours.train_ended and not ours.is_open


def test_a_run_left_open_by_a_failed_fit_is_failed_when_the_next_fit_starts(
    tracking_uri: str,
) -> None:
    crashed = TrackedRun.open()  # its fit raised: no end_training
    assert mlflow.active_run().info.run_id == crashed.run_id
    following = TrackedRun.open()
    assert status(crashed.run_id) == "FAILED"
    assert following.owned and following.run_id != crashed.run_id
    following.end_training()


def test_the_excepthook_closes_our_open_runs_and_chains(tracking_uri: str) -> None:
    seen: list[type[BaseException]] = []
    sys.excepthook = lambda kind, exc, tb: seen.append(kind)
    run = TrackedRun.open()
    assert sys.excepthook is _run_guard._excepthook
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert status(run.run_id) == "KILLED"
    assert seen == [KeyboardInterrupt]


def test_end_training_with_a_failure_status_marks_it_and_counts_as_ended(
    tracking_uri: str,
) -> None:
    run = TrackedRun.open()
    run.end_training("FAILED")  # on_train_end raised while logging the model
    assert status(run.run_id) == "FAILED" and run.train_ended
