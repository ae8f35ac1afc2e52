"""What a checkpoint costs: its size in the store, and the time it adds to an epoch.

    uv run python benchmarks/checkpoints.py            # WNUT-17 when ../shared has it
    uv run python benchmarks/checkpoints.py --epochs 6

Trains ``BiLSTM_CRF_Model`` (1,500 WNUT-17 training sentences, the dev set for
validation, batch 64) with ``MlflowCallback(checkpoint_every_n_epochs=1)`` to a
local SQLite store, and times each epoch's checkpoint as the callback makes it
(writing the ``tf.train.Checkpoint`` and ``state.json``, creating the logged
model on MLflow 3, uploading, finalizing, retention). Reported: the median
seconds per checkpoint, the same as a share of the median epoch (the epoch's
training, validation and entity evaluation, from Keras' epoch begin to the
callback's epoch end), and the checkpoint's size on disk next to the size of
the logged model. Raw results go to ``docs/benchmarks/checkpoints.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "checkpoints.json"
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from raw_results import write_raw_results  # noqa: E402 - after the sys.path line
from run import load_data, new_model  # noqa: E402

#: A checkpoint may add at most this share to an epoch of this model.
TARGET_SHARE = 0.10


def folder_bytes(folder: Path) -> int:
    """The size of every file under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="default: 5")
    parser.add_argument("--train-sentences", type=int, default=1500, help="default: 1500")
    parser.add_argument("--dev-sentences", type=int, default=1009, help="default: 1009")
    args = parser.parse_args()

    import mlflow
    import tensorflow as tf

    from kashgari_mlflow import MlflowCallback
    from kashgari_mlflow._compat import import_kashgari
    from kashgari_mlflow._tracking import _checkpointer

    import_kashgari()
    load_average = os.getloadavg()
    train_x, train_y, dev_x, dev_y, source = load_data(args)
    checkpoint_seconds: list[float] = []
    epoch_seconds: list[float] = []
    original = _checkpointer.Checkpointer.end_epoch

    def timed(self: Any, *arguments: Any, **options: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *arguments, **options)
        finally:
            checkpoint_seconds.append(time.perf_counter() - started)

    class EpochClock(tf.keras.callbacks.Callback):  # type: ignore[misc]
        """First in the list: from the epoch's begin to the end of every callback's epoch end."""

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.ended = time.perf_counter()

    class EpochEnd(tf.keras.callbacks.Callback):  # type: ignore[misc]
        def __init__(self, clock: EpochClock) -> None:
            super().__init__()
            self.clock = clock

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epoch_seconds.append(time.perf_counter() - self.clock.started)

    _checkpointer.Checkpointer.end_epoch = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as folder:
        mlflow.set_tracking_uri(f"sqlite:///{Path(folder) / 'mlflow.db'}")
        callback = MlflowCallback(checkpoint_every_n_epochs=1, keep_checkpoints=2)
        clock = EpochClock()
        model = new_model(train_x, train_y, dev_x, dev_y)
        model.fit(
            train_x, train_y, dev_x, dev_y, batch_size=64, epochs=args.epochs,
            callbacks=[clock, callback, EpochEnd(clock)], fit_kwargs={"verbose": 0},
        )  # fmt: skip
        run_id = callback.active_run_id
        from kashgari_mlflow._tracking._checkpoint_store import (
            CheckpointStore,
            latest_checkpoint,
        )

        client = mlflow.MlflowClient()
        stored = latest_checkpoint(client, run_id)
        assert stored is not None
        checkpoint = Path(CheckpointStore(client, run_id).download(stored, folder + "/ckpt"))
        logged_model = Path(
            mlflow.artifacts.download_artifacts(f"runs:/{run_id}/model", dst_path=folder + "/m")
        )
        sizes = {"checkpoint": folder_bytes(checkpoint), "logged model": folder_bytes(logged_model)}
    # The first checkpoint also pays one-off costs (imports, the first logged model).
    steady = checkpoint_seconds[1:] or checkpoint_seconds
    share = statistics.median(s / e for s, e in zip(steady, epoch_seconds[1:], strict=False))
    lines = [
        f"{source}; {len(train_x)} training sentences, {len(dev_x)} dev sentences, "
        f"{args.epochs} epochs, batch 64; load average {load_average[0]:.2f} before.",
        "",
        "| measure | value | target | |",
        "|---|---:|---|---|",
        f"| checkpoint, median after the first (s) | {statistics.median(steady):.3f} | | |",
        f"| first checkpoint (s) | {checkpoint_seconds[0]:.3f} | | |",
        f"| epoch with its checkpoint, median (s) | {statistics.median(epoch_seconds):.2f} | | |",
        f"| checkpoint / epoch, median of epochs after the first | {share:.1%} "
        f"| <= {TARGET_SHARE:.0%} | {'met' if share <= TARGET_SHARE else 'MISSED'} |",
        f"| checkpoint size (MiB) | {sizes['checkpoint'] / 2**20:.2f} | | |",
        f"| logged model size (MiB), for comparison | {sizes['logged model'] / 2**20:.2f} | | |",
    ]
    print("\n".join(lines))
    write_raw_results(
        RESULTS, "benchmarks/checkpoints.py", load_average,
        data=source, train_sentences=len(train_x), dev_sentences=len(dev_x),
        epochs=args.epochs, checkpoint_seconds=checkpoint_seconds,
        epoch_seconds=epoch_seconds, bytes=sizes, table=lines,
    )  # fmt: skip
    print(f"raw results: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
