"""One tiny training tracked by ``MlflowCallback``, run in its own process by server tests.

    python -m tests._train_worker --experiment NAME --run-name NAME --learning-rate X \
        --batch-size N --epochs N --embedding-size N --seed N \
        --barrier DIR --peers N --output FILE

Logs to the server in ``MLFLOW_TRACKING_URI``. Once its model is built it marks
itself ready in ``--barrier`` and waits for ``--peers`` workers in all before
``fit``, so the trainings really run at the same time. Writes its run id and
the tags its in-process model gives the dev sentences to ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tests.conftest import _load_example_module, make_tiny_model

BARRIER_SECONDS = 300


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiment", required=True)
    parser.add_argument("--run-name", required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--embedding-size", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--barrier", type=Path, required=True)
    parser.add_argument("--peers", type=int, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from kashgari_mlflow import MlflowCallback
    from kashgari_mlflow._entities import is_internal_label

    np.random.seed(args.seed)
    tf.random.set_seed(args.seed)
    corpus = _load_example_module("demo_corpus")
    train_x, train_y, dev_x, dev_y = corpus.demo_corpus(n_train=240, n_dev=60, seed=7)
    model = make_tiny_model(embedding_size=args.embedding_size)
    model.build_model(train_x, train_y)
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=args.learning_rate))

    (args.barrier / args.run_name).touch()
    deadline = time.monotonic() + BARRIER_SECONDS
    while len(list(args.barrier.iterdir())) < args.peers:
        if time.monotonic() > deadline:
            raise SystemExit(f"The other workers were not ready within {BARRIER_SECONDS} s.")
        time.sleep(0.1)

    # log_model="last": the logged weights are the ones predicting below.
    callback = MlflowCallback(
        experiment_name=args.experiment, run_name=args.run_name, log_model="last", strict=True
    )
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=args.batch_size, epochs=args.epochs,
        callbacks=[callback], fit_kwargs={"verbose": 0},
    )  # fmt: skip
    tags = [["O" if is_internal_label(t) else t for t in row] for row in model.predict(dev_x)]
    args.output.write_text(json.dumps({"run_id": callback.active_run_id, "tags": tags}))


if __name__ == "__main__":
    main()
