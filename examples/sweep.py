"""A hyper-parameter grid: one parent run, a nested child run per setting, the best one registered.

Each child trains a Kashgari NER model with ``MlflowCallback(nested=True)``,
which logs its params, per-epoch metrics and model. The child with the best
``val_entity_f1`` is registered in the Model Registry as a new version. The
alias (``@champion``) moves to it only if it beats the current champion on
strict entity F1 by ``--margin``: both are scored on the same data with the
``kashgari-ner`` evaluator of ``mlflow.models.evaluate`` (a nested evaluation
run each), and MLflow's ``validate_evaluation_results`` decides. Serving code
loads ``models:/<name>@<alias>``:

    uv run python examples/sweep.py
    uv run python examples/sweep.py --learning-rates 0.005 0.02 --batch-sizes 16 32 --epochs 3
    uv run python examples/sweep.py --train train.conll --dev dev.conll --test test.conll
    mlflow ui --backend-store-uri sqlite:///mlflow.db   # compare the children
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MONITOR = "val_entity_f1"
#: What a new champion must beat the current one on, by ``--margin``.
PROMOTION_METRIC = "val_strict_f1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[0.005, 0.02])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", help="CoNLL file to train on (default: generated demo corpus)")
    parser.add_argument("--dev", help="CoNLL file to validate on (needed with --train)")
    parser.add_argument("--max-sentences", type=int, default=None)
    parser.add_argument("--experiment", default="kashgari-ner-sweep")
    parser.add_argument("--registered-model", default="kashgari-ner")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--test", help="CoNLL file the promotion is decided on (default: dev)")
    parser.add_argument(
        "--margin", type=float, default=0.01,
        help=f"how much higher {PROMOTION_METRIC} must be to replace the champion",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.train and not args.dev:
        parser.error("--train needs --dev: the sweep ranks runs by validation entity F1")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def load_data(args: argparse.Namespace):
    if not args.train:
        from demo_corpus import demo_corpus

        return demo_corpus(n_train=300, n_dev=80)
    from kashgari_mlflow import read_conll

    train_x, train_y = read_conll(args.train)
    dev_x, dev_y = read_conll(args.dev)
    if args.max_sentences:
        train_x, train_y = train_x[: args.max_sentences], train_y[: args.max_sentences]
    return train_x, train_y, dev_x, dev_y


def test_data(args: argparse.Namespace, data):
    if args.test:
        from kashgari_mlflow import read_conll

        return read_conll(args.test)
    return data[2], data[3]


def train_child(data, learning_rate: float, batch_size: int, epochs: int) -> str:
    import tensorflow as tf
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    from kashgari_mlflow import MlflowCallback

    train_x, train_y, dev_x, dev_y = data
    model = BiLSTM_CRF_Model()
    model.build_model(train_x + dev_x, train_y + dev_y)
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate))
    callback = MlflowCallback(
        nested=True, run_name=f"lr={learning_rate} batch={batch_size}", monitor=MONITOR
    )
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=batch_size, epochs=epochs,
        callbacks=[callback], fit_kwargs={"verbose": 0},
    )  # fmt: skip
    assert callback.active_run_id is not None
    return callback.active_run_id


def best_score(client, run_id: str) -> float:
    return max(metric.value for metric in client.get_metric_history(run_id, MONITOR))


def current_champion(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:  # no such model or alias yet
        return None


def promote(client, name: str, alias: str, candidate: str, data, margin: float) -> bool:
    """Move ``alias`` to version ``candidate`` if it beats the current holder by ``margin``."""
    import mlflow
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation.validation import ModelValidationFailedException

    from kashgari_mlflow import evaluate_model

    champion = current_champion(client, name, alias)
    candidate, held = str(candidate), str(champion.version) if champion else None
    if held == candidate:
        return True
    if held is not None:
        results = {}
        for version in (candidate, held):
            with mlflow.start_run(run_name=f"evaluate {name} v{version}", nested=True):
                results[version] = evaluate_model(f"models:/{name}/{version}", data)
        thresholds = {
            PROMOTION_METRIC: MetricThreshold(min_absolute_change=margin, greater_is_better=True)
        }
        try:
            mlflow.validate_evaluation_results(thresholds, results[candidate], results[held])
        except ModelValidationFailedException as failure:
            print(f"Version {candidate} does not beat @{alias} (version {held}) "
                  f"by {margin}: {failure.message}")  # fmt: skip
            return False
        old, new = (results[v].metrics[PROMOTION_METRIC] for v in (held, candidate))
        print(f"Version {candidate} beats version {held}: {PROMOTION_METRIC} "
              f"{new:.4f} against {old:.4f} (margin {margin})")  # fmt: skip
    client.set_registered_model_alias(name, alias, candidate)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import mlflow

    data = load_data(args)
    client = mlflow.MlflowClient()
    mlflow.set_experiment(args.experiment)
    grid = list(itertools.product(args.learning_rates, args.batch_sizes))
    with mlflow.start_run(run_name="sweep") as parent:
        mlflow.log_params(
            {
                "grid.learning_rates": args.learning_rates,
                "grid.batch_sizes": args.batch_sizes,
                "epochs": args.epochs,
                "monitor": MONITOR,
            }
        )
        scores = {}
        for learning_rate, batch_size in grid:
            run_id = train_child(data, learning_rate, batch_size, args.epochs)
            scores[run_id] = best_score(client, run_id)
            print(f"lr={learning_rate} batch={batch_size}: best {MONITOR} {scores[run_id]:.4f}")

        best = max(scores, key=lambda run_id: scores[run_id])
        mlflow.log_metric(f"best_{MONITOR}", scores[best])
        mlflow.set_tag("best_run_id", best)
        version = mlflow.register_model(f"runs:/{best}/model", args.registered_model)
        promoted = promote(
            client, args.registered_model, args.alias, version.version,
            test_data(args, data), args.margin,
        )  # fmt: skip
        mlflow.set_tag("promoted", str(promoted).lower())

    print(f"\nParent run {parent.info.run_id}: {len(grid)} children")
    print(f"Best child {best} ({MONITOR} {scores[best]:.4f})")
    print(f"Registered as version {version.version} of {args.registered_model}")
    champion = current_champion(client, args.registered_model, args.alias)
    print(f"models:/{args.registered_model}@{args.alias} is version {champion.version}"
          + ("" if promoted else " (unchanged)"))  # fmt: skip
    answer = mlflow.pyfunc.load_model(f"models:/{args.registered_model}@{args.alias}").predict(
        ["John lives in New York"]
    )
    print("Entities:", [(e["text"], e["type"]) for e in answer[0]["entities"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
