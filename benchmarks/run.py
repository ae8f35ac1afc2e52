"""What tracking and serving cost, measured side by side in one run.

    uv run python benchmarks/run.py                 # WNUT-17 when ../shared has it
    uv run python benchmarks/run.py --repeats 5 --train-sentences 3394

Prints a markdown table of medians and ratios with the targets, and writes
``benchmarks/results/latest.json`` and ``latest.png``. Variants are alternated
within each repeat so that machine noise hits them alike; compare ratios.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WNUT = ROOT.parent / "shared" / "data" / "wnut17"
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-sentences", type=int, default=1500)
    parser.add_argument("--dev-sentences", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="pairs per comparison (median)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--no-memory", action="store_true", help="skip peak memory (one fresh process per variant)"
    )
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # worker mode for peak memory
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    return parser.parse_args()


def load_data(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, str]:
    from kashgari_mlflow import read_conll

    if WNUT.is_dir():
        train_x, train_y = read_conll(WNUT / "train.conll")
        dev_x, dev_y = read_conll(WNUT / "dev.conll")
        source = "WNUT-17 (../shared/data/wnut17)"
    else:
        from demo_corpus import demo_corpus

        train_x, train_y, dev_x, dev_y = demo_corpus(args.train_sentences, args.dev_sentences)
        source = "generated demo corpus (../shared/data/wnut17 not found)"
    return (
        train_x[: args.train_sentences],
        train_y[: args.train_sentences],
        dev_x[: args.dev_sentences],
        dev_y[: args.dev_sentences],
        source,
    )


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def new_model(train_x: Any, train_y: Any, dev_x: Any, dev_y: Any) -> Any:
    import numpy as np
    import tensorflow as tf
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    np.random.seed(0)
    tf.random.set_seed(0)
    model = BiLSTM_CRF_Model()
    model.build_model(train_x + dev_x, train_y + dev_y)
    return model


def training_overhead(data: Any, args: argparse.Namespace, workdir: Path) -> dict[str, list[float]]:
    import mlflow

    from kashgari_mlflow import MlflowCallback

    train_x, train_y, dev_x, dev_y = data

    def fit(callbacks: list[Any]) -> None:
        model = new_model(train_x, train_y, dev_x, dev_y)
        model.fit(train_x, train_y, dev_x, dev_y, epochs=args.epochs, callbacks=callbacks,
                  fit_kwargs={"verbose": 0})  # fmt: skip

    def tf_autolog() -> None:
        mlflow.tensorflow.autolog(silent=True)
        try:
            fit([])
        finally:
            mlflow.tensorflow.autolog(disable=True)
            while mlflow.active_run():
                mlflow.end_run()

    variants: dict[str, Callable[[], None]] = {
        "bare fit": lambda: fit([]),
        "MlflowCallback(eval off)": lambda: fit([MlflowCallback(eval_every_n_epochs=0)]),
        "MlflowCallback(log_model=False)": lambda: fit([MlflowCallback(log_model=False)]),
        "MlflowCallback()": lambda: fit([MlflowCallback()]),
        "mlflow.tensorflow.autolog()": tf_autolog,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    fit([])  # warm-up: first graph builds and imports are not anyone's cost
    for repeat in range(args.repeats):
        mlflow.set_tracking_uri(f"sqlite:///{workdir / f'train-{repeat}.db'}")
        mlflow.MlflowClient().search_experiments()  # create the store's tables untimed
        for name, run in variants.items():
            seconds, _ = timed(run)
            times[name].append(seconds)
            print(f"  repeat {repeat + 1}: {name}: {seconds:.1f} s", flush=True)
    return times


def inference_costs(data: Any, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import mlflow

    import kashgari_mlflow
    from kashgari_mlflow._entities import is_internal_label
    from kashgari_mlflow._evaluation import evaluate_entities
    from kashgari_mlflow._tagger import Tagger

    train_x, train_y, dev_x, dev_y = data
    model = new_model(train_x, train_y, dev_x, dev_y)
    model.fit(train_x, train_y, epochs=args.epochs, fit_kwargs={"verbose": 0})
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'inference.db'}")
    tagger = Tagger.from_kashgari(model)
    # Warm-up: Keras traces its predict function anew for each new batch shape.
    tagger.predict_tags(dev_x)
    model.predict(dev_x)
    results: dict[str, Any] = {key: [] for key in (
        "forward pass", "entity evaluation", "Kashgari evaluate", "model.save", "log_model",
        "Kashgari load_model", "pyfunc load_model", "Kashgari predict+predict_entities",
        "pyfunc predict")}  # fmt: skip

    def measure(repeat: int) -> bool:
        results["forward pass"].append(timed(lambda: tagger.predict_tags(dev_x))[0])
        # As the callback does each epoch: the same tagger (its graph traced once).
        results["entity evaluation"].append(timed(lambda: evaluate_entities(
            model, dev_x, dev_y, scheme="default", batch_size=64, tagger=tagger))[0])  # fmt: skip
        results["Kashgari evaluate"].append(timed(lambda: model.evaluate(dev_x, dev_y))[0])
        folder = workdir / f"saved-{repeat}"
        results["model.save"].append(timed(lambda: model.save(str(folder)))[0])
        with mlflow.start_run():
            seconds, info = timed(lambda: kashgari_mlflow.log_model(model, "model"))
        results["log_model"].append(seconds)
        from kashgari.tasks.labeling import BiLSTM_CRF_Model

        results["Kashgari load_model"].append(
            timed(lambda: BiLSTM_CRF_Model.load_model(str(folder)))[0]
        )
        seconds, pyfunc = timed(lambda: mlflow.pyfunc.load_model(info.model_uri))
        results["pyfunc load_model"].append(seconds)
        pyfunc.predict(dev_x)  # warm-up of the fresh model (tracing per batch shape)

        def kashgari_predict() -> Any:
            tags = model.predict(dev_x, batch_size=64)
            model.predict_entities(dev_x, batch_size=64)
            return tags

        seconds, theirs = timed(kashgari_predict)
        results["Kashgari predict+predict_entities"].append(seconds)
        seconds, ours = timed(lambda: pyfunc.predict(dev_x, params={"batch_size": 64}))
        results["pyfunc predict"].append(seconds)
        clean = [["O" if is_internal_label(t) else t for t in tags] for tags in theirs]
        return clean == [answer["tags"] for answer in ours]

    identical = all([measure(repeat) for repeat in range(args.repeats)])
    results["tags identical"] = identical
    model.save(str(workdir / "kashgari-model"))
    kashgari_mlflow.save_model(model, str(workdir / "pyfunc-model"))
    served = mlflow.pyfunc.load_model(str(workdir / "pyfunc-model"))
    in_process = served.predict([" ".join(tokens) for tokens in dev_x])
    results.update(rest_throughput(workdir, dev_x, args.repeats, in_process))
    return results


def rest_throughput(
    workdir: Path, dev_x: Any, repeats: int, in_process: list[dict[str, Any]]
) -> dict[str, Any]:
    """Sentences/s of ``mlflow models serve`` at batch 64 with 4 concurrent clients."""
    from serving import Server, throughput

    sentences = [" ".join(tokens) for tokens in dev_x]
    server = Server(workdir / "pyfunc-model", workdir / "serve.log")
    try:
        server.wait_ready()
        throughput(server, sentences[:128])  # warm-up: the worker traces its graph
        walls, latencies, identical = [], [], True
        for _ in range(repeats):
            wall, batch_latencies, answers = throughput(server, sentences)
            walls.append(wall)
            latencies.extend(batch_latencies)
            identical &= [a["tags"] for a in answers] == [a["tags"] for a in in_process]
        peak = server.peak_rss_mb()
    finally:
        server.stop()
    ordered = sorted(latencies)
    return {
        "REST batch 64, 4 clients": walls,
        "REST latency p50": ordered[len(ordered) // 2],
        "REST latency p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "REST tags identical": identical,
        "REST server peak RSS MB": peak,
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def build_rows(
    train: dict[str, list[float]], infer: dict[str, Any], n_dev: int
) -> list[dict[str, Any]]:
    bare = median(train["bare fit"])
    rows = [
        {"measure": f"training: {name}", "median_s": median(values),
         "ratio": median(values) / bare, "baseline": "bare fit", "target": target}
        for name, values, target in (
            ("MlflowCallback(eval off)", train["MlflowCallback(eval off)"], "<= 1.02"),
            ("MlflowCallback(log_model=False)", train["MlflowCallback(log_model=False)"], "(per-epoch cost)"),
            ("MlflowCallback()", train["MlflowCallback()"], "<= 1.05"),
            ("mlflow.tensorflow.autolog()", train["mlflow.tensorflow.autolog()"], "(about 1.5)"),
        )
    ]  # fmt: skip
    forward = median(infer["forward pass"])
    rows.append({"measure": "entity evaluation per epoch", "median_s": median(infer["entity evaluation"]),
                 "ratio": median(infer["entity evaluation"]) / forward, "baseline": "bucketed forward pass",
                 "target": "<= 1.1"})  # fmt: skip
    rows.append({"measure": "Kashgari evaluate (for comparison)", "median_s": median(infer["Kashgari evaluate"]),
                 "ratio": median(infer["Kashgari evaluate"]) / forward, "baseline": "bucketed forward pass",
                 "target": "(about 3)"})  # fmt: skip
    save = median(infer["model.save"])
    rows.append({"measure": "log_model", "median_s": median(infer["log_model"]),
                 "ratio": median(infer["log_model"]) / save, "baseline": "model.save",
                 "target": f"<= 1.5x save + 1 s = {1.5 * save + 1:.2f} s"})  # fmt: skip
    load = median(infer["Kashgari load_model"])
    rows.append({"measure": "pyfunc load_model", "median_s": median(infer["pyfunc load_model"]),
                 "ratio": median(infer["pyfunc load_model"]) / load, "baseline": "Kashgari load_model",
                 "target": "<= 1.3"})  # fmt: skip
    theirs = median(infer["Kashgari predict+predict_entities"])
    ours = median(infer["pyfunc predict"])
    rows.append({"measure": f"pyfunc predict ({n_dev / ours:.0f} sentences/s)", "median_s": ours,
                 "ratio": theirs / ours, "baseline": f"Kashgari predict+entities ({n_dev / theirs:.0f}/s)",
                 "target": ">= 2.5 (speed-up)"})  # fmt: skip
    rest = median(infer["REST batch 64, 4 clients"])
    rows.append({"measure": f"REST batch 64, 4 clients ({n_dev / rest:.0f} sentences/s; p50 "
                            f"{infer['REST latency p50'] * 1000:.0f} ms, p99 {infer['REST latency p99'] * 1000:.0f} ms)",
                 "median_s": rest, "ratio": ours / rest, "baseline": "pyfunc predict in process",
                 "target": ">= 0.6 (throughput)"})  # fmt: skip
    return rows


def verdict(row: dict[str, Any]) -> str:
    target = row["target"]
    if target.startswith("("):
        return "reference"
    if target.startswith("<= 1.5x save"):
        return "met" if row["median_s"] <= float(target.rsplit("= ", 1)[1].split()[0]) else "MISSED"
    bound = float(target.split()[1])
    ok = row["ratio"] <= bound if target.startswith("<=") else row["ratio"] >= bound
    return "met" if ok else "MISSED"


MEMORY_VARIANTS = {
    "bare fit (1 epoch)": "fit",
    "fit + MlflowCallback() (1 epoch)": "fit-callback",
    "fit + mlflow.tensorflow.autolog() (1 epoch)": "fit-tf-autolog",
    "Kashgari load_model + predict": "kashgari-predict",
    "pyfunc load_model + predict": "pyfunc-predict",
}


def peak_memory(args: argparse.Namespace, corpus: Any, workdir: Path) -> dict[str, float]:
    """Peak RSS of each variant, each in a fresh process (so peaks do not mask each other)."""
    import kashgari_mlflow

    train_x, train_y, dev_x, dev_y = corpus
    model = new_model(train_x, train_y, dev_x, dev_y)
    model.fit(train_x, train_y, epochs=1, fit_kwargs={"verbose": 0})
    model.save(str(workdir / "kashgari-model"))
    kashgari_mlflow.save_model(model, str(workdir / "pyfunc-model"))
    peaks = {}
    for name, variant in MEMORY_VARIANTS.items():
        command = [
            sys.executable, __file__, "--variant", variant, "--workdir", str(workdir),
            "--train-sentences", str(args.train_sentences),
            "--dev-sentences", str(args.dev_sentences),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
        peaks[name] = float(done.stdout.strip().splitlines()[-1].split()[-1])
        print(f"  {name}: {peaks[name]:.0f} MB", flush=True)
    return peaks


def run_variant(args: argparse.Namespace) -> int:
    """Worker mode: run one variant, print its peak RSS in MB."""
    import mlflow

    from kashgari_mlflow._compat import import_kashgari

    import_kashgari()
    workdir = Path(args.workdir)
    mlflow.set_tracking_uri(f"sqlite:///{workdir / f'{args.variant}.db'}")
    train_x, train_y, dev_x, dev_y, _ = load_data(args)
    if args.variant.startswith("fit"):
        from kashgari_mlflow import MlflowCallback

        callbacks = [MlflowCallback()] if args.variant == "fit-callback" else []
        if args.variant == "fit-tf-autolog":
            mlflow.tensorflow.autolog(silent=True)
        model = new_model(train_x, train_y, dev_x, dev_y)
        model.fit(train_x, train_y, dev_x, dev_y, epochs=1, callbacks=callbacks,
                  fit_kwargs={"verbose": 0})  # fmt: skip
        while mlflow.active_run():
            mlflow.end_run()
    elif args.variant == "kashgari-predict":
        from kashgari.tasks.labeling import BiLSTM_CRF_Model

        model = BiLSTM_CRF_Model.load_model(str(workdir / "kashgari-model"))
        model.predict(dev_x, batch_size=64)
        model.predict_entities(dev_x, batch_size=64)
    elif args.variant == "pyfunc-predict":
        mlflow.pyfunc.load_model(str(workdir / "pyfunc-model")).predict(dev_x)
    else:
        raise SystemExit(f"unknown variant {args.variant}")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from the parent.
    from serving import vm_hwm_kb

    print(f"PEAK_RSS_MB {vm_hwm_kb(os.getpid()) / 1024:.1f}")
    return 0


def main() -> int:
    from kashgari_mlflow._compat import import_kashgari

    args = parse_args()
    if args.variant:
        return run_variant(args)
    import_kashgari()  # and quiets Kashgari's DEBUG logger, which prints arrays
    data = load_data(args)
    *corpus, source = data
    print(f"Data: {source}; {len(corpus[0])} training and {len(corpus[2])} dev sentences, "
          f"{args.epochs} epochs, {args.repeats} repeats")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        print("Training overhead:")
        train = training_overhead(corpus, args, workdir)
        print("Inference costs:")
        infer = inference_costs(corpus, args, workdir)
    rows = build_rows(train, infer, len(corpus[2]))
    print("\n| measure | median (s) | ratio | vs | target | |\n|---|---:|---:|---|---|---|")
    for row in rows:
        print(f"| {row['measure']} | {row['median_s']:.3f} | {row['ratio']:.2f} | {row['baseline']} "
              f"| {row['target']} | {verdict(row)} |")  # fmt: skip
    print(f"\nTags of pyfunc predict identical to Kashgari's: {infer['tags identical']}; "
          f"REST answers identical to in-process pyfunc: {infer['REST tags identical']}")  # fmt: skip
    memory: dict[str, float] = {}
    if not args.no_memory:
        with tempfile.TemporaryDirectory() as folder:
            memory = peak_memory(args, corpus, Path(folder))
        memory["mlflow models serve (server and workers)"] = infer["REST server peak RSS MB"]
        print("\n| peak memory | MB |\n|---|---:|")
        for name, megabytes in memory.items():
            print(f"| {name} | {megabytes:.0f} |")
        print("\nEach variant ran alone in a fresh Python process (its VmHWM, TensorFlow "
              "included); the server is the VmHWM sum of its process tree.")  # fmt: skip
    payload = {"data": source, "args": vars(args), "rows": rows, "raw": {**train, **infer},
               "peak_memory_mb": memory}  # fmt: skip
    (out / "latest.json").write_text(json.dumps(payload, indent=1, default=str))
    chart(rows, out / "latest.png")
    print(f"Wrote {out / 'latest.json'} and {out / 'latest.png'}")
    return 0


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 0.5 * len(rows) + 1.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    names = [row["measure"] for row in rows][::-1]
    bars = axes.barh(names, [row["ratio"] for row in rows][::-1], color="#3b7dd8")
    axes.bar_label(bars, fmt="%.2f", padding=3)
    axes.axvline(1.0, color="grey", linewidth=1)
    axes.set_xlabel("ratio to the baseline of each row (see table)")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
