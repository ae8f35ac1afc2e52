"""The one key sanitizer: labels and names become keys MLflow accepts on every store."""

from __future__ import annotations

import pytest

from kashgari_mlflow._evaluation import report_metrics
from kashgari_mlflow._keys import mlflow_key
from kashgari_mlflow._metrics import entity_report
from kashgari_mlflow._params import make_safe


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("val_entity_f1/creative-work", "val_entity_f1/creative-work"),
        ("val_entity_f1/creative work", "val_entity_f1/creative work"),
        ("val_entity_f1/c++", "val_entity_f1/c__"),
        ("hyper_parameters.a:b", "hyper_parameters.a_b"),  # ":" fails on Windows stores
        ("val_entity_f1/", "val_entity_f1/_"),
        ("val_entity_f1/..", "val_entity_f1/_"),
        ("a//b", "a/_/b"),
        ("/abs", "_/abs"),
        ("", "_"),
        ("größe", "größe"),
    ],
)
def test_mlflow_key(name: str, key: str) -> None:
    assert mlflow_key(name) == key
    assert mlflow_key(key) == key


def test_mlflow_accepts_every_cleaned_key() -> None:
    from mlflow.utils.validation import _validate_metric_name, _validate_param_name

    for name in ("a:b", "x/../y", "a//b", "t/", "é (1)", "", "..", "?*"):
        _validate_metric_name(mlflow_key(name))
        _validate_param_name(mlflow_key(name))


def test_per_type_metrics_and_params_use_the_same_rule() -> None:
    report = entity_report([["B-a:b", "O"]], [["B-a:b", "O"]])
    assert "val_entity_f1/a_b" in report_metrics(report)
    assert "x.a_b" in make_safe({"x.a:b": 1})
