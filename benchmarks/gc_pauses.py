"""Full garbage collections inside pyfunc predict calls, with and without the pause.

    uv run python benchmarks/gc_pauses.py

A ``BiLSTM_CRF_Model`` (one epoch on 1,500 WNUT-17 training sentences) is saved
with ``kashgari_mlflow.save_model``. Each variant is then a fresh process that
loads its pyfunc, predicts the 1,009 dev sentences once untimed and then
``--calls`` times, dropping each answer as a server would: ``paused`` (as
shipped: the collector is paused during each call) and ``collector on``
(``MAX_PAUSED_SENTENCES`` set to -1, as before the pause). Variants alternate,
``--pairs`` fresh processes each. Every call's seconds, and every full
(generation 2) collection that started inside a call with its seconds (from
``gc.callbacks``), go to ``docs/benchmarks/gc_pauses.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "gc_pauses.json"
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cold import rotated  # noqa: E402
from raw_results import write_raw_results  # noqa: E402 - after the sys.path line

VARIANTS = ("paused", "collector on")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="timed calls per process (30)")
    parser.add_argument("--pairs", type=int, default=2, help="processes per variant (2)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    return parser.parse_args()


def dev_sentences() -> list[str]:
    from run import WNUT, load_data

    args = argparse.Namespace(train_sentences=1500, dev_sentences=1009)
    if not WNUT.is_dir():
        raise SystemExit("needs ../shared/data/wnut17")
    return [" ".join(tokens) for tokens in load_data(args)[2]]


def child(variant: str, model_dir: str, calls: int) -> int:
    """Worker mode: load the pyfunc, time ``calls`` predicts, print one JSON line."""
    import gc

    import mlflow

    from kashgari_mlflow import _gc_pause

    if variant == "collector on":
        _gc_pause.MAX_PAUSED_SENTENCES = -1
    sentences = dev_sentences()
    model = mlflow.pyfunc.load_model(model_dir)
    model.predict(sentences)
    started: dict[str, float] = {}
    inside: list[bool] = [False]
    collections: list[dict[str, Any]] = []

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            collections.append({"call": len(seconds), "inside_call": inside[0],
                                "seconds": time.perf_counter() - started.pop("at")})  # fmt: skip

    seconds: list[float] = []
    gc.callbacks.append(on_collection)
    for _ in range(calls):
        inside[0] = True
        begin = time.perf_counter()
        answer = model.predict(sentences)
        seconds.append(time.perf_counter() - begin)
        inside[0] = False
        del answer
    gc.callbacks.remove(on_collection)
    print("RESULT " + json.dumps({"seconds": seconds, "full_collections": collections}))
    return 0


def train_and_save(folder: Path) -> Path:
    from kashgari.tasks.labeling import BiLSTM_CRF_Model
    from run import load_data

    import kashgari_mlflow

    args = argparse.Namespace(train_sentences=1500, dev_sentences=1009)
    train_x, train_y, *_ = load_data(args)
    model = BiLSTM_CRF_Model(sequence_length=40)
    model.fit(train_x, train_y, batch_size=64, epochs=1, fit_kwargs={"verbose": 0})
    path = folder / "model"
    kashgari_mlflow.save_model(model, str(path))
    return path


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    calls = [s for run in runs for s in run["seconds"]]
    median = statistics.median(calls)
    inside = [c["seconds"] for run in runs for c in run["full_collections"] if c["inside_call"]]
    return {
        "calls": len(calls), "median_s": median, "max_s": max(calls),
        "over_1.5x_median": sum(s > 1.5 * median for s in calls),
        "full_collections_inside_calls": len(inside),
        "their_seconds": [round(s, 3) for s in inside],
    }  # fmt: skip


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args.child, args.model_dir, args.calls)
    from kashgari_mlflow._compat import import_kashgari

    import_kashgari()
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="kashgari-mlflow-gc-") as folder:
        model_dir = train_and_save(Path(folder))
        for pair in range(args.pairs):
            for variant in rotated(list(VARIANTS), pair):
                command = [sys.executable, __file__, "--child", variant,
                           "--model-dir", str(model_dir), "--calls", str(args.calls)]  # fmt: skip
                done = subprocess.run(command, capture_output=True, text=True, timeout=900)
                lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
                if done.returncode != 0 or not lines:
                    raise RuntimeError(f"{variant} failed: {done.stderr[-3000:]}")
                runs[variant].append(json.loads(lines[-1][len("RESULT ") :]))
    table = {variant: summary(variant_runs) for variant, variant_runs in runs.items()}
    print("| variant | calls | median (s) | slowest (s) | calls over 1.5x the median "
          "| full collections inside calls (s each) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|")
    for variant, row in table.items():
        each = ", ".join(f"{s:.2f}" for s in row["their_seconds"]) or "none"
        print(f"| {variant} | {row['calls']} | {row['median_s']:.3f} | {row['max_s']:.3f} "
              f"| {row['over_1.5x_median']} | {row['full_collections_inside_calls']}: {each} |")  # fmt: skip
    write_raw_results(RESULTS, "benchmarks/gc_pauses.py", load_before, data="WNUT-17 dev",
                      runs=runs, table=table)  # fmt: skip
    print(f"raw results: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
