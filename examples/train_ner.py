"""Train a Kashgari NER model with MLflow tracking, load it back with pyfunc, predict.

With no arguments it trains on a small generated English corpus and logs to
the default local store (``sqlite:///mlflow.db`` in the working directory, or
``MLFLOW_TRACKING_URI`` when set):

    uv run python examples/train_ner.py
    uv run python examples/train_ner.py --train ../shared/data/wnut17/train.conll \\
        --dev ../shared/data/wnut17/dev.conll --epochs 2

Chinese NER reads the People's Daily format (one character and its tag per
line) as it is; ``--tokenizer auto`` (the default) sees the data is
character-level and saves the character tokenizer, so raw sentences work:

    uv run python examples/train_ner.py --train example.train --dev example.dev \\
        --predict "国务院总理李鹏在人民大会堂会见了日本首相。"

In a terminal Keras draws a progress bar; in a log file each epoch is one line.

On a machine that can be preempted, checkpoint every epoch and run the same
command again after a stop: it continues the stopped run from its newest
checkpoint (weights, optimizer state, epoch count):

    uv run python examples/train_ner.py --epochs 20 --run-name long --resume
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

# Before TensorFlow is imported: its C++ start-up messages are for TF developers.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Kashgari's vocabulary scans and MLflow's artifact downloads draw tqdm bars.
os.environ.setdefault("TQDM_DISABLE", "1")

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
TOKENIZERS = ["auto", "whitespace", "char"]


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
    parser.add_argument(
        "--tokenizer",
        default="auto",
        choices=TOKENIZERS,
        help="how the logged model splits raw sentences (default auto: char for "
        "character-level data such as People's Daily, else whitespace)",
    )
    parser.add_argument("--experiment", default="kashgari-ner", help="MLflow experiment name")
    parser.add_argument("--run-name", default=None, help="MLflow run name")
    parser.add_argument(
        "--max-sentences", type=int, default=None, help="use at most N training sentences"
    )
    parser.add_argument(
        "--predict",
        nargs="*",
        default=None,
        help="raw sentences to tag at the end (default: examples for the demo corpus, "
        "else the first two validation sentences)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="checkpoint every epoch, and continue the newest stopped run of this experiment "
        "and --run-name from its newest checkpoint",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=None,
        help="store a checkpoint every N epochs (default: 1 with --resume, else none)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="seed Python, NumPy and TensorFlow")
    args = parser.parse_args(argv)
    if args.checkpoint_every is None:
        args.checkpoint_every = 1 if args.resume else 0
    if args.checkpoint_every < 0:
        parser.error("--checkpoint-every must be 0 or more")
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


def quiet_libraries() -> None:
    """Keep the output for people: our INFO lines, no library debug or deprecation noise."""
    # Deprecation notices from inside Kashgari, TensorFlow Addons and Keras, set before
    # their imports (TensorFlow Addons warns about its end of life when imported).
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r"(?s).*TensorFlow Addons")
    import kashgari
    import mlflow  # configures its loggers on import: quieten them after
    import tensorflow as tf

    logging.basicConfig(format="%(message)s", level=logging.WARNING, stream=sys.stdout)
    logging.getLogger("kashgari_mlflow").setLevel(logging.INFO)  # e.g. the tokenizer choice
    kashgari.logger.logger.setLevel(logging.WARNING)  # DEBUG by default, arrays on predict
    logging.getLogger(mlflow.__name__).setLevel(logging.ERROR)  # store creation, env notes
    tf.get_logger().setLevel(logging.ERROR)


def epoch_lines(tracker: Any, epochs: int) -> Any:
    """A callback printing one line per epoch: loss, and the validation scores just logged."""
    import mlflow
    import tensorflow as tf

    class EpochLines(tf.keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            parts = [f"epoch {epoch + 1}/{epochs}"]
            parts += [f"{key} {logs[key]:.4f}" for key in ("loss", "val_loss") if key in logs]
            try:  # what MlflowCallback (earlier in the list) logged for this epoch
                logged = mlflow.MlflowClient().get_run(tracker.active_run_id).data.metrics
            except Exception:  # noqa: BLE001 - an unreachable server must not stop training
                logged = {}
            for key in ("val_entity_f1", "val_sentence_accuracy"):
                if key in logged:
                    parts.append(f"{key} {logged[key]:.4f}")
            print("  ".join(parts), flush=True)

    return EpochLines()


def sentences_to_tag(args: argparse.Namespace, dev_x: Any, train_x: Any, tokenizer: str) -> Any:
    if args.predict:
        return args.predict
    if not args.train:
        return EXAMPLE_SENTENCES
    joiner = "" if tokenizer == "char" else " "  # how the model joins token lists
    return [joiner.join(sentence) for sentence in (dev_x or train_x)[:2]]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_libraries()
    import mlflow
    import tensorflow as tf
    from kashgari.tasks import labeling

    from kashgari_mlflow import MlflowCallback

    if args.seed is not None:
        tf.keras.utils.set_random_seed(args.seed)
    train_x, train_y, dev_x, dev_y = load_data(args)
    model = getattr(labeling, args.model)()
    model.build_model(train_x + (dev_x or []), train_y + (dev_y or []))
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=args.learning_rate))
    callback = MlflowCallback(
        experiment_name=args.experiment,
        run_name=args.run_name,
        tokenizer=args.tokenizer,
        checkpoint_every_n_epochs=args.checkpoint_every,
        resume=args.resume,
    )
    model.fit(
        train_x,
        train_y,
        dev_x,
        dev_y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        callbacks=[callback, epoch_lines(callback, args.epochs)],
        # A progress bar in a terminal; in a file or a pipe only the epoch lines.
        fit_kwargs={"verbose": 1 if sys.stdout.isatty() else 0},
    )

    run_id = callback.active_run_id
    store = mlflow.get_tracking_uri()
    print(f"\nRun id: {run_id}")
    print(f"Tracking store: {store}")
    print(f"Open the UI with: mlflow ui --backend-store-uri {store}  (then http://127.0.0.1:5000)")

    loaded = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    tokenizer = str(callback.chosen_tokenizer)
    print(f"Loaded runs:/{run_id}/model with mlflow.pyfunc (tokenizer: {tokenizer})\n")
    for answer in loaded.predict(sentences_to_tag(args, dev_x, train_x, tokenizer)):
        entities = ", ".join(f"{e['text']} ({e['type']})" for e in answer["entities"]) or "none"
        print(f"{answer['text']}\n  entities: {entities}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
