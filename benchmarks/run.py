"""What tracking and serving cost, measured side by side in one run.

    uv run python benchmarks/run.py                 # WNUT-17 when ../shared has it
    uv run python benchmarks/run.py --repeats 5 --train-sentences 3394

Prints a markdown table of medians and ratios with the targets (and a note for
each missed one), a table of peak memory, and writes
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
    parser.add_argument("--train-sentences", type=int, default=1500, help="default: 1500")
    parser.add_argument(
        "--dev-sentences",
        type=int,
        default=1000,
        help="evaluated, predicted and served; default: 1000",
    )
    parser.add_argument("--epochs", type=int, default=2, help="default: 2")
    parser.add_argument(
        "--repeats", type=int, default=3, help="measurements per variant (median); default: 3"
    )
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results"), help="default: %(default)s"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip peak memory (one fresh process per variant)"
    )
    parser.add_argument(
        "--no-workers-2",
        action="store_true",
        help="skip the extra `mlflow models serve --workers 2` row",
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
    # Kept for the REST servers and the peak-memory processes.
    model.save(str(workdir / "kashgari-model"))
    kashgari_mlflow.save_model(model, str(workdir / "pyfunc-model"))
    results["REST"] = rest_throughput(workdir, dev_x, args)
    return results


REST_BATCH = 64
REST_CLIENTS = 4


def rest_throughput(workdir: Path, dev_x: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Sentences/s of ``mlflow models serve`` at batch 64 with 4 concurrent clients.

    Each repeat times in-process pyfunc predict on the same strings, then every
    server, so that machine noise hits them alike.
    """
    import mlflow
    from serving import Server, throughput

    sentences = [" ".join(tokens) for tokens in dev_x]
    pyfunc = mlflow.pyfunc.load_model(str(workdir / "pyfunc-model"))
    reference = pyfunc.predict(sentences, params={"batch_size": REST_BATCH})  # and warm-up
    cores = len(os.sched_getaffinity(0))
    worker_counts = [1] if args.no_workers_2 or cores < 2 else [1, 2]
    in_process: list[float] = []
    measured: dict[int, dict[str, Any]] = {
        workers: {
            "wall_s": [],
            "latencies_s": [],
            "tags identical": True,
            "answers identical": True,
        }
        for workers in worker_counts
    }
    servers: dict[int, Server] = {}
    try:
        for workers in worker_counts:
            log = workdir / f"serve-{workers}.log"
            servers[workers] = Server(workdir / "pyfunc-model", log, workers=workers)
        for server in servers.values():
            server.wait_ready()
            for _ in range(2):  # warm-up: every worker loads the model and traces its graph
                throughput(server, sentences, REST_BATCH, REST_CLIENTS)
        for repeat in range(args.repeats):
            seconds, _ = timed(lambda: pyfunc.predict(sentences, params={"batch_size": REST_BATCH}))
            in_process.append(seconds)
            print(f"  repeat {repeat + 1}: pyfunc predict in process (strings): {seconds:.2f} s",
                  flush=True)  # fmt: skip
            for workers, server in servers.items():
                wall, latencies, answers = throughput(server, sentences, REST_BATCH, REST_CLIENTS)
                entry = measured[workers]
                entry["wall_s"].append(wall)
                entry["latencies_s"].extend(latencies)
                entry["tags identical"] &= [a["tags"] for a in answers] == [
                    a["tags"] for a in reference
                ]
                entry["answers identical"] &= answers == reference
                print(f"  repeat {repeat + 1}: REST --workers {workers}: {wall:.2f} s", flush=True)
        for workers, server in servers.items():
            measured[workers]["processes"] = server.peak_rss_mb()
    finally:
        for server in servers.values():
            server.stop()
    return {"in process s": in_process, "servers": measured, "cores": cores}


def median(values: list[float]) -> float:
    return statistics.median(values)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def row(measure: str, values: list[float], baseline: str, base_values: list[float], target: str,
        *, throughput: bool = False) -> dict[str, Any]:  # fmt: skip
    """One table row; ``ratio`` is value/baseline, or baseline/value for a throughput."""
    ratio = median(values) / median(base_values)
    return {"measure": measure, "median_s": median(values), "ratio": 1 / ratio if throughput else ratio,
            "baseline": baseline, "target": target, "values": values, "baseline_values": base_values}  # fmt: skip


def build_rows(
    train: dict[str, list[float]], infer: dict[str, Any], n_dev: int
) -> list[dict[str, Any]]:
    bare = train["bare fit"]
    rows = [
        row(f"training: {name}", train[name], "bare fit", bare, target)
        for name, target in (
            ("MlflowCallback(eval off)", "<= 1.02"),
            ("MlflowCallback(log_model=False)", "(per-epoch cost)"),
            ("MlflowCallback()", "<= 1.05"),
            ("mlflow.tensorflow.autolog()", "(about 1.5)"),
        )
    ]
    forward = infer["forward pass"]
    rows.append(row("entity evaluation per epoch", infer["entity evaluation"], "bucketed forward pass",
                    forward, "<= 1.1"))  # fmt: skip
    rows.append(row("Kashgari evaluate (for comparison)", infer["Kashgari evaluate"],
                    "bucketed forward pass", forward, "(about 3)"))  # fmt: skip
    save = median(infer["model.save"])
    rows.append(row("log_model", infer["log_model"], "model.save", infer["model.save"],
                    f"<= 1.5x save + 1 s = {1.5 * save + 1:.2f} s"))  # fmt: skip
    rows.append(row("pyfunc load_model", infer["pyfunc load_model"], "Kashgari load_model",
                    infer["Kashgari load_model"], "<= 1.3"))  # fmt: skip
    theirs = median(infer["Kashgari predict+predict_entities"])
    ours = median(infer["pyfunc predict"])
    rows.append(row(f"pyfunc predict ({n_dev / ours:.0f} sentences/s)", infer["pyfunc predict"],
                    f"Kashgari predict+entities ({n_dev / theirs:.0f}/s)",
                    infer["Kashgari predict+predict_entities"], ">= 2.5 (speed-up)", throughput=True))  # fmt: skip
    rest = infer["REST"]
    in_process = median(rest["in process s"])
    for workers, served in rest["servers"].items():
        wall = median(served["wall_s"])
        p50, p99 = percentiles(served["latencies_s"], 50, 99)
        rows.append(row(
            f"REST batch {REST_BATCH}, {REST_CLIENTS} clients, --workers {workers} "
            f"({n_dev / wall:.0f} sentences/s; request p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms)",
            served["wall_s"], f"pyfunc predict in process, same strings ({n_dev / in_process:.0f}/s)",
            rest["in process s"], ">= 0.6 (throughput)" if workers == 1 else "(2 workers, extra)",
            throughput=True,
        ))  # fmt: skip
    return rows


def percentiles(values: list[float], *qs: float) -> list[float]:
    """Percentiles with linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    out = []
    for q in qs:
        position = (len(ordered) - 1) * q / 100
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out


def limit(row: dict[str, Any]) -> tuple[str, float, float]:
    """(comparison, measured value, bound) of a row's target."""
    target = row["target"]
    if target.startswith("<= 1.5x save"):
        return "<=", row["median_s"], float(target.rsplit("= ", 1)[1].split()[0])
    return target.split()[0], row["ratio"], float(target.split()[1])


def verdict(row: dict[str, Any]) -> str:
    if row["target"].startswith("("):
        return "reference"
    comparison, value, bound = limit(row)
    ok = value <= bound if comparison == "<=" else value >= bound
    return "met" if ok else "MISSED"


# What each measured cost is made of, for the note under a missed target.
COST_OF = {
    "training: MlflowCallback(eval off)": "params, tags and dataset profiles at the start, one "
    "batch of Keras metrics per epoch, a copy of the weights when an epoch is the best so far, and "
    "the model logged at the end (SQLite store, local artifacts).",
    "training: MlflowCallback()": "as with evaluation off, plus one bucketed forward pass and entity "
    "scoring of the validation data per epoch.",
    "entity evaluation per epoch": "one bucketed forward pass, tags to entity spans, and the counts.",
    "log_model": "Kashgari's files, the SavedModel of the inference graph (tf.saved_model.save; "
    "the graph itself was traced by the evaluation before), the MLmodel, the environment files "
    "and the bundled loader written into the artifact store.",
    "pyfunc load_model": "MLflow reads the MLmodel and imports the loader; the loader checks the "
    "SavedModel's ops and loads it with tf.saved_model.load.",
    "pyfunc predict": "tokens to ids, sorting by length, padding per batch, one traced graph, "
    "and the answer dicts with entity spans.",
    "REST": "each request is JSON-encoded by a client thread, parsed by MLflow's scoring server, "
    "predicted, and the answer JSON-encoded and parsed back; the client threads run in the "
    "benchmark process and share the {cores} CPU(s) with the server, which in-process predict "
    "has to itself.",
}


def spread(values: list[float]) -> float:
    """(max - min) / median of one variant's repeats."""
    return (max(values) - min(values)) / median(values) if len(values) > 1 else 0.0


def miss_note(row: dict[str, Any], cores: int) -> str:
    """Why a target was missed: what the cost is made of, and the miss against the run's noise."""
    comparison, value, bound = limit(row)
    miss = value / bound - 1 if comparison == "<=" else bound / value - 1
    key = next((key for key in COST_OF if row["measure"].startswith(key)), "")
    made_of = COST_OF.get(key, "").format(cores=cores)
    noise = max(spread(row["values"]), spread(row["baseline_values"]))
    if len(row["values"]) < 2:
        judged = "With one repeat this run cannot tell a cost from noise."
    elif miss < noise:
        judged = (f"The miss ({miss:.0%} past the target) is smaller than the spread of the "
                  f"repeats ({noise:.0%}): within this run's noise.")  # fmt: skip
    else:
        judged = (f"The miss ({miss:.0%} past the target) is larger than the spread of the "
                  f"repeats ({noise:.0%}): more than this run's noise shows, though few repeats "
                  f"on a busy machine understate noise.")  # fmt: skip
    if key.startswith("training"):
        judged += (" The callback's start and end (params, dataset profiles, logging the model) "
                   "cost the same however long the fit, so short fits show larger ratios.")  # fmt: skip
    return f"- **{row['measure']}** missed its target ({row['target']}). It measures: {made_of} {judged}"


MEMORY_VARIANTS = {
    "imports and corpus only (baseline)": "baseline",
    "bare fit": "fit",
    "fit + MlflowCallback(eval_every_n_epochs=0)": "fit-callback-eval-off",
    "fit + MlflowCallback()": "fit-callback",
    "fit + mlflow.tensorflow.autolog()": "fit-tf-autolog",
    "Kashgari load_model + predict + predict_entities": "kashgari-predict",
    "pyfunc load_model + predict": "pyfunc-predict",
}


def peak_memory(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """Peak RSS of each variant, each in a fresh process (so peaks do not mask each other).

    The load-and-predict variants use the models ``inference_costs`` saved in ``workdir``.
    """
    peaks = {}
    for name, variant in MEMORY_VARIANTS.items():
        command = [
            sys.executable, __file__, "--variant", variant, "--workdir", str(workdir),
            "--train-sentences", str(args.train_sentences),
            "--dev-sentences", str(args.dev_sentences), "--epochs", str(args.epochs),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        lines = [line for line in done.stdout.splitlines() if line.startswith("PEAK_RSS_MB ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"memory variant {variant} failed: {done.stderr[-3000:]}")
        peaks[name] = float(lines[-1].split()[1])
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
    if args.variant == "baseline":
        pass
    elif args.variant.startswith("fit"):
        from kashgari_mlflow import MlflowCallback

        callbacks = {
            "fit": [],
            "fit-callback-eval-off": [MlflowCallback(eval_every_n_epochs=0)],
            "fit-callback": [MlflowCallback()],
            "fit-tf-autolog": [],
        }[args.variant]
        if args.variant == "fit-tf-autolog":
            mlflow.tensorflow.autolog(silent=True)
        model = new_model(train_x, train_y, dev_x, dev_y)
        model.fit(train_x, train_y, dev_x, dev_y, epochs=args.epochs, callbacks=callbacks,
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


def memory_rows(peaks: dict[str, float], rest: dict[str, Any]) -> list[dict[str, Any]]:
    """Peak memory rows: the in-process variants, then each server's processes."""
    baseline = peaks.get("imports and corpus only (baseline)")
    rows = [
        {"variant": name, "label": name, "peak_mb": mb,
         "over_baseline_mb": None if baseline is None or name.endswith("(baseline)") else mb - baseline}
        for name, mb in peaks.items()
    ]  # fmt: skip
    for workers, served in rest["servers"].items():
        processes = served["processes"]
        role = "uvicorn" if workers == 1 else "worker"
        serving = [mb for name, mb in processes if name == role]
        label = "the uvicorn process (loads the model and serves)" if workers == 1 else (
            f"largest of its {len(serving)} workers (each loads the model)")  # fmt: skip
        rows.append({"variant": f"mlflow models serve --workers {workers}: {label}",
                     "label": f"serve --workers {workers}: {'uvicorn' if workers == 1 else 'largest worker'}",
                     "peak_mb": max(serving, default=0.0), "over_baseline_mb": None})  # fmt: skip
        names = ", ".join(name for name, _ in processes)
        rows.append({"variant": f"mlflow models serve --workers {workers}: sum over its processes ({names})",
                     "label": f"serve --workers {workers}: sum of {len(processes)} processes",
                     "peak_mb": sum(mb for _, mb in processes), "over_baseline_mb": None})  # fmt: skip
    return rows


def main() -> int:
    from kashgari_mlflow._compat import import_kashgari

    args = parse_args()
    if args.variant:
        return run_variant(args)
    import_kashgari()  # and quiets Kashgari's DEBUG logger, which prints arrays
    data = load_data(args)
    *corpus, source = data
    load_before = os.getloadavg()
    print(f"Data: {source}; {len(corpus[0])} training and {len(corpus[2])} dev sentences, "
          f"{plural(args.epochs, 'epoch')}, {plural(args.repeats, 'repeat')}; {len(os.sched_getaffinity(0))} CPUs, "
          f"load average {load_before[0]:.2f}")  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        print("Training overhead:")
        train = training_overhead(corpus, args, workdir)
        print("Inference and serving costs:")
        infer = inference_costs(corpus, args, workdir)
        if not args.no_memory:
            print("Peak memory (a fresh process per variant):")
            peaks = peak_memory(args, workdir)
    load_after = os.getloadavg()
    rest = infer["REST"]
    rows = build_rows(train, infer, len(corpus[2]))
    memory = memory_rows(peaks, rest) if peaks else []
    print(f"\n{source}, {len(corpus[0])} training and {len(corpus[2])} dev sentences, "
          f"{plural(args.epochs, 'epoch')}, {plural(args.repeats, 'repeat')}, {rest['cores']} CPUs, load average "
          f"{load_before[0]:.2f} before and {load_after[0]:.2f} after.")  # fmt: skip
    print("\n| measure | median (s) | ratio | vs | target | |\n|---|---:|---:|---|---|---|")
    for line in rows:
        print(f"| {line['measure']} | {line['median_s']:.3f} | {line['ratio']:.2f} | {line['baseline']} "
              f"| {line['target']} | {verdict(line)} |")  # fmt: skip
    print(f"\nTags of pyfunc predict identical to Kashgari's on all {len(corpus[2])} sentences: "
          f"{infer['tags identical']}.")  # fmt: skip
    for workers, served in rest["servers"].items():
        print(f"REST --workers {workers}: tags identical to in-process pyfunc: "
              f"{served['tags identical']}; whole answers identical: {served['answers identical']}.")  # fmt: skip
    missed = [line for line in rows if verdict(line) == "MISSED"]
    if missed:
        print("\nNotes on missed targets:\n")
        print("\n".join(miss_note(line, rest["cores"]) for line in missed))
    if memory:
        print("\n| peak memory (VmHWM) | MB | over baseline (MB) |\n|---|---:|---:|")
        for line in memory:
            over = "" if line["over_baseline_mb"] is None else f"{line['over_baseline_mb']:.0f}"
            print(f"| {line['variant']} | {line['peak_mb']:.0f} | {over} |")
        print(f"\nPeak RSS is VmHWM from /proc. Each in-process variant ran alone in a fresh Python "
              f"process that imported TensorFlow, Kashgari and MLflow, read the corpus, then ran only "
              f"that variant ({plural(args.epochs, 'epoch')} for the fits), so no variant's peak hides another's; "
              f"'over baseline' subtracts the process that stops after the imports and the corpus. "
              f"(ru_maxrss would carry the parent's peak over fork+exec.) Servers: VmHWM of each "
              f"process of `mlflow models serve`, read after the throughput runs; the sum counts "
              f"shared libraries once per process, so it is an upper bound.")  # fmt: skip
    payload = {"data": source, "args": vars(args), "cpus": rest["cores"],
               "load_average": {"before": load_before, "after": load_after}, "rows": rows,
               "raw": {**train, **infer}, "peak_memory": memory}  # fmt: skip
    (out / "latest.json").write_text(json.dumps(payload, indent=1, default=str))
    chart(rows, memory, out / "latest.png")
    print(f"Wrote {out / 'latest.json'} and {out / 'latest.png'}")
    return 0


def chart(rows: list[dict[str, Any]], memory: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    heights = [len(rows) + 1.5] + ([len(memory) + 1.5] if memory else [])
    figure = Figure(figsize=(9, 0.42 * sum(heights) + 0.5), dpi=110)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    axes = figure.add_subplot(grid[0])
    colors = {"met": "#3b7dd8", "MISSED": "#d8503b", "reference": "#9a9a9a"}
    bars = axes.barh([line["measure"].split(" (")[0] for line in rows][::-1],
                     [line["ratio"] for line in rows][::-1],
                     color=[colors[verdict(line)] for line in rows][::-1])  # fmt: skip
    axes.bar_label(bars, fmt="%.2f", padding=3)
    axes.set_xlim(0, 1.15 * max(line["ratio"] for line in rows))
    axes.axvline(1.0, color="grey", linewidth=1)
    axes.set_xlabel(
        "ratio to the row's baseline, see the table (blue: met, red: missed, grey: reference)"
    )
    axes.tick_params(axis="y", labelsize=7)
    if memory:
        axes = figure.add_subplot(grid[1])
        bars = axes.barh([line["label"] for line in memory][::-1],
                         [line["peak_mb"] for line in memory][::-1], color="#6a9f58")  # fmt: skip
        axes.bar_label(bars, fmt="%.0f", padding=3)
        axes.set_xlim(0, 1.15 * max(line["peak_mb"] for line in memory))
        axes.set_xlabel("peak RSS (VmHWM), MB")
        axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
