"""Train a Kashgari NER model with MLflow tracking, load it back with pyfunc, predict.

With no arguments it trains on a small generated English corpus and logs to
the default local store (``sqlite:///mlflow.db`` in the working directory, or
``MLFLOW_TRACKING_URI`` when set):

    uv run python examples/train_ner.py
    uv run python examples/train_ner.py --train ../shared/data/wnut17/train.conll \\
        --dev ../shared/data/wnut17/dev.conll --epochs 2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

LABELING_MODELS = [
    "BiLSTM_CRF_Model",
    "BiLSTM_Model",
    "BiGRU_CRF_Model",
    "BiGRU_Model",
    "CNN_LSTM_Model",
]
EXAMPLE_SENTENCES = [
    "John lives in New York",
    "Mary works at Google in Paris .",
    "Yesterday Angela Merkel flew from Berlin to Tokyo .",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", help="CoNLL file to train on (default: generated demo corpus)")
    parser.add_argument("--dev", help="CoNLL file to validate on (needs --train)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument(
        "--learning-rate", type=float, default=0.01, help="Adam learning rate (default 0.01)"
    )
    parser.add_argument("--model", default="BiLSTM_CRF_Model", choices=LABELING_MODELS)
    parser.add_argument("--experiment", default="kashgari-ner", help="MLflow experiment name")
    parser.add_argument("--run-name", default=None, help="MLflow run name")
    parser.add_argument(
        "--max-sentences", type=int, default=None, help="use at most N training sentences"
    )
    parser.add_argument(
        "--predict", nargs="*", default=EXAMPLE_SENTENCES, help="sentences to tag at the end"
    )
    args = parser.parse_args(argv)
    if args.dev and not args.train:
        parser.error("--dev needs --train")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    for option in ("train", "dev"):
        path = getattr(args, option)
        if path and not os.path.isfile(path):
            parser.error(f"--{option} {path}: no such file")
    return args


def load_data(args: argparse.Namespace):
    from kashgari_mlflow import read_conll

    if not args.train:
        from demo_corpus import demo_corpus

        print("Training on the generated demo corpus (PER, LOC, ORG).")
        train_x, train_y, dev_x, dev_y = demo_corpus()
        if args.max_sentences:
            train_x, train_y = train_x[: args.max_sentences], train_y[: args.max_sentences]
        return train_x, train_y, dev_x, dev_y
    train_x, train_y = read_conll(args.train)
    dev_x, dev_y = read_conll(args.dev) if args.dev else (None, None)
    if args.max_sentences:
        train_x, train_y = train_x[: args.max_sentences], train_y[: args.max_sentences]
    print(
        f"Training on {args.train}: {len(train_x)} sentences"
        + (f", validating on {args.dev}: {len(dev_x)}" if dev_x else "")
    )
    return train_x, train_y, dev_x, dev_y


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import mlflow
    import tensorflow as tf
    from kashgari.tasks import labeling

    from kashgari_mlflow import MlflowCallback

    train_x, train_y, dev_x, dev_y = load_data(args)
    model = getattr(labeling, args.model)()
    model.build_model(train_x + (dev_x or []), train_y + (dev_y or []))
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=args.learning_rate))
    callback = MlflowCallback(experiment_name=args.experiment, run_name=args.run_name)
    model.fit(
        train_x,
        train_y,
        dev_x,
        dev_y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[callback],
    )

    run_id = callback.active_run_id
    print(f"\nRun id: {run_id}")
    print(f"Tracking store: {mlflow.get_tracking_uri()}")
    print(f"Browse it with: mlflow ui --backend-store-uri {mlflow.get_tracking_uri()}")

    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    print(f"Loaded runs:/{run_id}/model with mlflow.pyfunc\n")
    for answer in loaded.predict(args.predict):
        entities = ", ".join(f"{e['text']} ({e['type']})" for e in answer["entities"]) or "none"
        print(f"{answer['text']}\n  entities: {entities}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
