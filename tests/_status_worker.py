"""A training process that stops badly, for ``tests/test_run_status.py``.

    python -m tests._status_worker MODE [--fit] [--epochs N]

Logs to ``MLFLOW_TRACKING_URI``. Prints ``RUN <id>`` once the run exists and
``EPOCH <n>`` after each completed epoch, so the parent can act between epochs.

MODE is what goes wrong:

* ``caught``: the third epoch raises ``RuntimeError``, the script catches it and
  exits normally (exit code 0);
* ``sigterm``: after the third epoch, the process waits to be sent SIGTERM;
* ``chained-sigterm``: the same, with a SIGTERM handler of the script's own
  (installed before training) that writes ``--marker`` and exits with code 3;
* ``caught-ctrl-c``: the third epoch is interrupted by SIGINT, the script catches
  the ``KeyboardInterrupt`` and exits normally;
* ``users-run``: like ``caught``, inside ``with mlflow.start_run()`` of the script's own.

Without ``--fit`` the "training" is a :class:`TrackedRun` that the process logs
three epochs of metrics to, as the callback does (no TensorFlow: quick); with
``--fit`` a tiny Kashgari model trains with ``MlflowCallback()``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

WAIT_FOR_SIGNAL_SECONDS = 120


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["caught", "sigterm", "chained-sigterm", "caught-ctrl-c", "users-run"]
    )
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--marker", type=Path)
    args = parser.parse_args()
    if args.mode == "chained-sigterm":

        def own_handler(signum: int, frame: object) -> None:
            assert args.marker is not None
            args.marker.write_text("handled")
            os._exit(3)

        signal.signal(signal.SIGTERM, own_handler)

    failing_epoch = 2 if args.mode in ("caught", "users-run", "caught-ctrl-c") else None
    waiting_epoch = 2 if args.mode in ("sigterm", "chained-sigterm") else None
    train = _fit if args.fit else _fake_fit

    def on_epoch(epoch: int) -> None:
        if epoch == failing_epoch:
            if args.mode == "caught-ctrl-c":
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the KeyboardInterrupt is raised here
            raise RuntimeError("the training broke")
        print(f"EPOCH {epoch}", flush=True)
        if epoch == waiting_epoch:  # mid-training: later epochs would follow
            print("WAITING", flush=True)
            time.sleep(WAIT_FOR_SIGNAL_SECONDS)
            sys.exit("no signal came")

    if args.mode == "users-run":
        import mlflow

        with mlflow.start_run():
            try:
                train(args.epochs, on_epoch)
            except RuntimeError:
                print("CAUGHT", flush=True)
        return
    try:
        train(args.epochs, on_epoch)
    except (RuntimeError, KeyboardInterrupt) as err:
        print(f"CAUGHT {type(err).__name__}", flush=True)


def _fake_fit(epochs: int, on_epoch: Callable[[int], None]) -> None:
    """What the callback does to a run, without a network: open, three epochs, no end."""
    from kashgari_mlflow._tracking._runs import TrackedRun

    run = TrackedRun.open()
    print(f"RUN {run.run_id}", flush=True)
    for epoch in range(epochs):
        run.sender.queue_metrics({"loss": 1.0 / (epoch + 1)}, epoch)
        run.sender.flush()
        on_epoch(epoch)  # raises where the training breaks
    run.end_training()


def _fit(epochs: int, on_epoch: Callable[[int], None]) -> None:
    import tensorflow as tf

    from kashgari_mlflow import MlflowCallback
    from tests.conftest import _load_example_module, make_tiny_model

    class Reporter(tf.keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self, tracker: MlflowCallback) -> None:
            super().__init__()
            self.tracker = tracker

        def on_train_begin(self, logs: object = None) -> None:
            print(f"RUN {self.tracker.active_run_id}", flush=True)

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            on_epoch(epoch)

    tf.random.set_seed(1)
    corpus = _load_example_module("demo_corpus")
    train_x, train_y, dev_x, dev_y = corpus.demo_corpus(n_train=120, n_dev=30, seed=7)
    model = make_tiny_model(data=(train_x, train_y))
    tracker = MlflowCallback()
    # The tracker comes first: by its on_epoch_end the epoch's metrics are logged.
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=32, epochs=epochs,
        callbacks=[tracker, Reporter(tracker)], fit_kwargs={"verbose": 0},
    )  # fmt: skip


if __name__ == "__main__":
    main()
