"""The sweep example moves ``@champion`` only to a version that wins by the margin."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.models.evaluation import EvaluationResult

import kashgari_mlflow

from .conftest import _load_example_module

NAME, ALIAS = "ner", "champion"


@pytest.fixture
def registry(tracking_uri, tmp_path):
    """A registered model with versions 1-3 and ``@champion`` on version 1."""
    client = mlflow.MlflowClient()
    client.create_registered_model(NAME)
    for _ in range(3):
        client.create_model_version(NAME, str(tmp_path))
    client.set_registered_model_alias(NAME, ALIAS, "1")
    return client


def _scored(monkeypatch, scores):
    evaluated = []

    def fake_evaluate_model(model_uri, data):
        version = model_uri.rsplit("/", 1)[1]
        evaluated.append((version, mlflow.active_run().data.tags.get("mlflow.parentRunId")))
        return EvaluationResult({"val_strict_f1": scores[version]}, {})

    monkeypatch.setattr(kashgari_mlflow, "evaluate_model", fake_evaluate_model)
    return evaluated


@pytest.mark.parametrize(
    ("candidate_f1", "moves"),
    [(0.605, False), (0.60, False), (0.59, False), (0.62, True)],
)
def test_the_alias_moves_only_past_the_margin(registry, monkeypatch, capsys, candidate_f1, moves):
    sweep = _load_example_module("sweep")
    evaluated = _scored(monkeypatch, {"1": 0.60, "2": candidate_f1})
    with mlflow.start_run() as parent:
        promoted = sweep.promote(registry, NAME, ALIAS, "2", data=None, margin=0.01)
    assert promoted is moves
    assert str(registry.get_model_version_by_alias(NAME, ALIAS).version) == ("2" if moves else "1")
    # Each version is scored in an evaluation run nested under the sweep's run.
    assert evaluated == [("2", parent.info.run_id), ("1", parent.info.run_id)]
    output = capsys.readouterr().out
    assert ("beats version 1" in output) is moves
    assert ("does not beat @champion (version 1) by 0.01" in output) is not moves


def test_a_first_champion_needs_no_evaluation(registry, monkeypatch):
    sweep = _load_example_module("sweep")
    registry.delete_registered_model_alias(NAME, ALIAS)
    evaluated = _scored(monkeypatch, {})
    assert sweep.promote(registry, NAME, ALIAS, "3", data=None, margin=0.01) is True
    assert str(registry.get_model_version_by_alias(NAME, ALIAS).version) == "3"
    assert evaluated == []
