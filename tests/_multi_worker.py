"""One worker of a multi-worker training tracked by ``MlflowCallback``, for test_distributed.

    python -m tests._multi_worker --output FILE [--strategy]

With ``--strategy`` the model is built under ``MultiWorkerMirroredStrategy``
(cluster and role from ``TF_CONFIG``); without, each process trains on its own
and only the rank variables in the environment say which one is the chief.
Logs to ``MLFLOW_TRACKING_URI``. Writes the callback's run id, why it stayed
inactive, and the Keras history to ``--output`` (JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from tests.conftest import _load_example_module, make_tiny_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--strategy", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    from kashgari_mlflow import MlflowCallback

    # MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs.
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if args.strategy else None
    corpus = _load_example_module("demo_corpus")
    train_x, train_y, dev_x, dev_y = corpus.demo_corpus(n_train=64, n_dev=16, seed=7)
    tf.random.set_seed(1)
    # Kashgari's CRF loss fails under MultiWorkerMirroredStrategy on TF 2.15 (its
    # transition matrix is read from another graph): the softmax BiLSTM_Model works.
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = make_tiny_model("BiLSTM_Model", data=(train_x, train_y))
    callback = MlflowCallback()
    history = model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=16, epochs=2,
        callbacks=[callback], fit_kwargs={"verbose": 0},
    )  # fmt: skip
    args.output.write_text(
        json.dumps(
            {
                "run_id": callback.active_run_id,
                "inactive_reason": callback.inactive_reason,
                "history": history.history,
            }
        )
    )


if __name__ == "__main__":
    main()
