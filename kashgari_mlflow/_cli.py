"""The command line: ``python -m kashgari_mlflow evaluate MODEL_URI DATA.conll``.

Evaluates a logged model on a CoNLL file with the ``kashgari-ner`` evaluator,
logs the scores and error analysis to an MLflow run and prints the main
scores. Bad input ends with exit status 2 and one line saying what was wrong.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

#: The scores printed after an evaluation (all are logged).
SUMMARY = (
    "val_entity_precision",
    "val_entity_recall",
    "val_entity_f1",
    "val_strict_f1",
    "val_exact_f1",
    "val_partial_f1",
    "val_type_f1",
    "val_sentence_accuracy",
    "val_seen_entity_f1",
    "val_unseen_entity_f1",
)


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m kashgari_mlflow``."""
    root = argparse.ArgumentParser(prog="python -m kashgari_mlflow")
    commands = root.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser(
        "evaluate",
        help="score a logged NER model on a CoNLL file and log the results to an MLflow run",
        description="Score a logged NER model on a CoNLL file (entity P/R/F1, SemEval-2013 "
        "schemes, error kinds, error analysis) and log it all to an MLflow run of the "
        "active experiment (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME).",
    )
    evaluate.add_argument("model_uri", help="models:/<name>@<alias>, runs:/<id>/model, a path...")
    evaluate.add_argument("data", help="CoNLL file of tokens and gold tags")
    evaluate.add_argument("--train-data", help="CoNLL training file, for seen/unseen entity F1")
    evaluate.add_argument("--scheme", choices=("default", "IOB2", "IOBES"),
                          help="how tags form entities (default: the model's)")  # fmt: skip
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument("--metric-prefix", default="", help="prepended to every metric name")
    evaluate.add_argument("--experiment", help="experiment of the evaluation run")
    evaluate.add_argument("--run-name", help="name of the evaluation run")
    evaluate.add_argument("--json", action="store_true", help="print every metric as JSON")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parser().parse_args(argv)
    if args.batch_size < 1:
        return _fail(f"--batch-size must be at least 1, not {args.batch_size}")
    # What this command prints is its own: no download bars or MLflow notices on stderr.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ notes, when it loads
    import mlflow
    from mlflow.exceptions import MlflowException

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after MLflow set its own level

    from kashgari_mlflow._evaluate_model import evaluate_model
    from kashgari_mlflow._keys import mlflow_key

    try:
        if args.experiment:
            mlflow.set_experiment(args.experiment)
        result = evaluate_model(
            args.model_uri,
            args.data,
            train_data=args.train_data,
            scheme=args.scheme,
            batch_size=args.batch_size,
            metric_prefix=args.metric_prefix,
            run_name=args.run_name,
        )
    except (OSError, ValueError, MlflowException) as error:
        return _fail(_message(error))
    metrics = result.metrics
    if args.json:
        print(json.dumps({"run_id": result.run_id, "metrics": metrics}, indent=2, sort_keys=True))
        return 0
    print(f"Evaluation run {result.run_id}")
    for name in SUMMARY:
        key = mlflow_key(args.metric_prefix + name)
        if key in metrics:
            print(f"  {key:<{32 + len(args.metric_prefix)}} {metrics[key]:.4f}")
    print(f"  ({len(metrics)} metrics and the error analysis are logged to the run)")
    return 0


def _message(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if isinstance(error, FileNotFoundError) and error.filename:
        message = f"no such file: {error.filename}"
    return str(message).splitlines()[0] if str(message).strip() else type(error).__name__


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
