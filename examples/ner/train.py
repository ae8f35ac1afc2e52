"""Entry point of the ``kashgari-ner`` MLflow Project: runs ``../train_ner.py``.

MLflow passes every parameter, so empty paths and ``max_sentences=0`` arrive
here and are dropped before ``train_ner.py`` sees them. ``mlflow run`` sets
``MLFLOW_RUN_ID`` and ``MLFLOW_EXPERIMENT_ID``; ``MlflowCallback`` logs into
that run, so one run results. The run's experiment is passed on as
``--experiment`` so that ``train_ner.py``'s default experiment name is not
created, empty, beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train_ner


def to_train_ner_argv(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--batch-size", type=float, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--max-sentences", type=float, default=0)
    parser.add_argument("--train", default="")
    parser.add_argument("--dev", default="")
    args = parser.parse_args(argv)
    out = [
        "--epochs", str(int(args.epochs)),
        "--batch-size", str(int(args.batch_size)),
        "--learning-rate", str(args.learning_rate),
    ]  # fmt: skip
    if int(args.max_sentences) > 0:
        out += ["--max-sentences", str(int(args.max_sentences))]
    if args.train:
        out += ["--train", args.train]
    if args.dev:
        out += ["--dev", args.dev]
    experiment = projects_experiment_name()
    if experiment:
        out += ["--experiment", experiment]
    return out


def projects_experiment_name() -> str | None:
    """Name of the experiment ``mlflow run`` put its run in, or None outside ``mlflow run``."""
    experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
    if not experiment_id or not os.environ.get("MLFLOW_RUN_ID"):
        return None
    import mlflow

    return str(mlflow.MlflowClient().get_experiment(experiment_id).name)


if __name__ == "__main__":
    sys.exit(train_ner.main(to_train_ner_argv()))
