"""A hyper-parameter grid: one parent run, a nested child run per setting, the best one registered.

Each child trains a Kashgari NER model with ``MlflowCallback(nested=True)``,
which logs its params, per-epoch metrics and model. The child with the best
``val_entity_f1`` is registered in the Model Registry and given an alias, so
serving code can load ``models:/<name>@<alias>``:

    uv run python examples/sweep.py
    uv run python examples/sweep.py --learning-rates 0.005 0.02 --batch-sizes 16 32 --epochs 3
    mlflow ui --backend-store-uri sqlite:///mlflow.db   # compare the children
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

MONITOR = "val_entity_f1"


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
        client.set_registered_model_alias(args.registered_model, args.alias, version.version)

    print(f"\nParent run {parent.info.run_id}: {len(grid)} children")
    print(f"Best child {best} ({MONITOR} {scores[best]:.4f})")
    print(f"Registered as models:/{args.registered_model}@{args.alias} (version {version.version})")
    answer = mlflow.pyfunc.load_model(f"models:/{args.registered_model}@{args.alias}").predict(
        ["John lives in New York"]
    )
    print("Entities:", [(e["text"], e["type"]) for e in answer[0]["entities"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
