"""What tracking and serving cost, measured side by side in one run.

    uv run python benchmarks/run.py                 # WNUT-17 when ../shared has it
    uv run python benchmarks/run.py --repeats 5 --cold-pairs 5

Prints a markdown table with the targets (and a note for each missed one) and
a table of peak memory, and writes every single measurement, the command and
the machine to ``docs/benchmarks/latest.json`` (and the tables as a chart to
``benchmarks/results/latest.png``). Variants alternate, in an order rotated
every repeat, so that machine noise hits them alike; every ratio is taken
within one repeat (a pair) and the table quotes the median of those ratios.

Cold rows run each variant as a fresh process, as users run one training per
process (see ``benchmarks/cold.py``); warm rows reuse one process.
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

from cold import rotated  # noqa: E402 - after the sys.path line
from raw_results import write_raw_results  # noqa: E402

RESULTS = ROOT / "docs" / "benchmarks" / "latest.json"
CHART = ROOT / "benchmarks" / "results" / "latest.png"


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
    parser.add_argument("--cold-epochs", type=int, nargs="+", default=[3, 10], help="default: 3 10")
    parser.add_argument("--cold-pairs", type=int, default=3, help="default: 3")
    parser.add_argument(
        "--cold-train-sentences", type=int, help="cold trainings; default: the whole train set"
    )
    parser.add_argument(
        "--no-cold", action="store_true", help="skip the cold trainings (the longest part)"
    )
    parser.add_argument("--results", default=str(RESULTS), help="default: %(default)s")
    parser.add_argument("--chart", default=str(CHART), help="default: %(default)s")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip peak memory (one fresh process per variant)"
    )
    parser.add_argument(
        "--no-workers-2",
        action="store_true",
        help="skip the extra `mlflow models serve --workers 2` row",
    )
    parser.add_argument(
        "--tf-data-autotune",
        action="store_true",
        help="keep tf.data's autotuning of Keras' generator input (off by default: see "
        "benchmarks/input_pipeline.py)",
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
        for name in rotated(list(variants), repeat):
            seconds, _ = timed(variants[name])
            times[name].append(seconds)
            print(f"  repeat {repeat + 1}: {name}: {seconds:.1f} s", flush=True)
    return times


def inference_costs(data: Any, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Warm, in one process: forward pass, evaluation, predict and load, rotated per repeat."""
    import mlflow

    import kashgari_mlflow
    from kashgari_mlflow._entities import is_internal_label
    from kashgari_mlflow._evaluation import evaluate_entities
    from kashgari_mlflow._tagger import Tagger

    train_x, train_y, dev_x, dev_y = data
    model = new_model(train_x, train_y, dev_x, dev_y)
    model.fit(train_x, train_y, epochs=args.epochs, fit_kwargs={"verbose": 0})
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'inference.db'}")
    model.save(str(workdir / "kashgari-model"))
    kashgari_mlflow.save_model(model, str(workdir / "pyfunc-model"))
    tagger = Tagger.from_kashgari(model)
    pyfunc = mlflow.pyfunc.load_model(str(workdir / "pyfunc-model"))
    # Warm-up of every side at the batch size measured (graphs traced per batch shape).
    tagger.predict_tags(dev_x, batch_size=PREDICT_BATCH)
    model.predict(dev_x, batch_size=PREDICT_BATCH)
    pyfunc.predict(dev_x, params={"batch_size": PREDICT_BATCH})
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    tags: dict[str, Any] = {}
    steps: dict[str, Callable[[], Any]] = {
        "forward pass": lambda: tagger.predict_tags(dev_x, batch_size=PREDICT_BATCH),
        # As the callback does each epoch: the same tagger (its graph traced once).
        "entity evaluation": lambda: evaluate_entities(
            model, dev_x, dev_y, scheme="default", batch_size=PREDICT_BATCH, tagger=tagger
        ),
        "Kashgari evaluate": lambda: model.evaluate(dev_x, dev_y, batch_size=PREDICT_BATCH),
        "Kashgari predict": lambda: model.predict(dev_x, batch_size=PREDICT_BATCH),
        "pyfunc predict": lambda: pyfunc.predict(dev_x, params={"batch_size": PREDICT_BATCH}),
        "Kashgari load_model": lambda: BiLSTM_CRF_Model.load_model(str(workdir / "kashgari-model")),
        "pyfunc load_model": lambda: mlflow.pyfunc.load_model(str(workdir / "pyfunc-model")),
    }
    results: dict[str, Any] = {name: [] for name in steps}
    identical = True
    for repeat in range(args.repeats):
        for name in rotated(list(steps), repeat):
            seconds, answer = timed(steps[name])
            results[name].append(seconds)
            tags[name] = answer
        theirs = [["O" if is_internal_label(t) else t for t in s] for s in tags["Kashgari predict"]]
        identical &= theirs == [answer["tags"] for answer in tags["pyfunc predict"]]
        print(f"  repeat {repeat + 1}: " + ", ".join(
            f"{name} {results[name][-1]:.2f} s" for name in steps), flush=True)  # fmt: skip
    results["tags identical"] = identical
    results["REST"] = rest_throughput(workdir, dev_x, args)
    return results


REST_BATCH = 64
PREDICT_BATCH = 64
REST_CLIENTS = 4


def rest_throughput(workdir: Path, dev_x: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Sentences/s of ``mlflow models serve`` at batch 64 with 4 concurrent clients.

    The baseline is in-process pyfunc ``predict`` over the same requests: the
    same 64-sentence lists in the same order, one call each. Each repeat times
    the baseline and every server in an order rotated every repeat.
    """
    import mlflow
    from serving import Server, throughput

    sentences = [" ".join(tokens) for tokens in dev_x]
    requests = [sentences[i : i + REST_BATCH] for i in range(0, len(sentences), REST_BATCH)]
    pyfunc = mlflow.pyfunc.load_model(str(workdir / "pyfunc-model"))

    def in_process() -> list[Any]:
        return [answer for request in requests for answer in pyfunc.predict(request)]

    reference = in_process()  # and warm-up at every request's shape
    cores = len(os.sched_getaffinity(0))
    worker_counts = [1] if args.no_workers_2 or cores < 2 else [1, 2]
    in_process_s: list[float] = []
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
            for side in rotated(["in process", *worker_counts], repeat):
                if side == "in process":
                    seconds, _ = timed(in_process)
                    in_process_s.append(seconds)
                    print(f"  repeat {repeat + 1}: pyfunc predict in process, the same "
                          f"{len(requests)} requests one by one: {seconds:.2f} s", flush=True)  # fmt: skip
                    continue
                server = servers[side]
                wall, latencies, answers = throughput(server, sentences, REST_BATCH, REST_CLIENTS)
                entry = measured[side]
                entry["wall_s"].append(wall)
                entry["latencies_s"].extend(latencies)
                entry["tags identical"] &= [a["tags"] for a in answers] == [
                    a["tags"] for a in reference
                ]
                entry["answers identical"] &= answers == reference
                print(f"  repeat {repeat + 1}: REST --workers {side}: {wall:.2f} s", flush=True)
        for workers, server in servers.items():
            measured[workers]["processes"] = server.peak_rss_mb()
    finally:
        for server in servers.values():
            server.stop()
    return {"in process s": in_process_s, "servers": measured, "cores": cores}


def median(values: list[float]) -> float:
    return statistics.median(values)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def row(
    measure: str,
    values: list[float],
    baseline: str,
    base_values: list[float],
    target: tuple[str, float] | None = None,
    *,
    speed_up: bool = False,
) -> dict[str, Any]:
    """A row comparing two timed variants repeat by repeat (``values[i]`` pairs ``base_values[i]``).

    Its figure is the median of the pair ratios: seconds over the baseline's
    seconds, or the baseline's seconds over these (``speed_up``, a throughput).
    """
    ratios = [b / v if speed_up else v / b for v, b in zip(values, base_values, strict=True)]
    return {
        "measure": measure, "median_s": median(values), "baseline": baseline,
        "baseline_median_s": median(base_values), "pairs": ratios, "value": median(ratios),
        "unit": "x", "target": target, "values": values, "baseline_values": base_values,
    }  # fmt: skip


def difference_row(
    measure: str, differences: list[float], baseline: str, unit: str,
    target: tuple[str, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A row whose figure is the median of per-pair differences (MiB, seconds)."""
    return {
        "measure": measure, "median_s": None, "baseline": baseline, "baseline_median_s": None,
        "pairs": differences, "value": median(differences), "unit": unit, "target": target,
        "values": differences, "baseline_values": [],
    }  # fmt: skip


#: Targets of the cold trainings: MlflowCallback() over a bare fit, by epochs.
COLD_WALL_TARGETS = {3: 1.08, 10: 1.04}
COLD_RSS_TARGET_MIB = 100.0


def build_rows(
    train: dict[str, list[float]],
    infer: dict[str, Any],
    steps: dict[str, list[dict[str, float]]],
    cold: list[dict[str, Any]],
    cold_epochs: list[int],
    n_dev: int,
) -> list[dict[str, Any]]:
    """Every row of the table, in the order printed."""
    rows = cold_rows(cold, cold_epochs) if cold else []
    bare = train["bare fit"]
    rows += [
        row(f"warm training: {name}", train[name], "bare fit", bare, target)
        for name, target in (
            ("MlflowCallback(eval off)", ("<=", 1.02)),
            ("MlflowCallback(log_model=False)", None),
            ("MlflowCallback()", ("<=", 1.05)),
            ("mlflow.tensorflow.autolog()", None),
        )
    ]
    forward = infer["forward pass"]
    first = [step["seconds"] for step in steps["first evaluation"]]
    rows.append(row("entity evaluation, first of a fresh process (traces its graph)", first,
                    "one bucketed forward pass, warm, same process",
                    [step["forward_pass_s"] for step in steps["first evaluation"]], ("<=", 1.2)))  # fmt: skip
    rows.append(row("entity evaluation, later epochs (warm)", infer["entity evaluation"],
                    "one bucketed forward pass", forward))  # fmt: skip
    rows.append(row("Kashgari evaluate (for comparison)", infer["Kashgari evaluate"],
                    "one bucketed forward pass", forward))  # fmt: skip
    rows.append(row("log_model, first of a fresh process", [s["seconds"] for s in steps["log_model"]],
                    "model.save, first of a fresh process",
                    [s["seconds"] for s in steps["model.save"]]))  # fmt: skip
    rows.append(row("pyfunc load_model", infer["pyfunc load_model"], "Kashgari load_model",
                    infer["Kashgari load_model"], ("<=", 1.3)))  # fmt: skip
    ours, theirs = infer["pyfunc predict"], infer["Kashgari predict"]
    rows.append(row(f"pyfunc predict, batch {PREDICT_BATCH} ({n_dev / median(ours):.0f} sentences/s)",
                    ours, f"Kashgari predict, batch {PREDICT_BATCH} ({n_dev / median(theirs):.0f}/s)",
                    theirs, (">=", 3.0), speed_up=True))  # fmt: skip
    rows.append(row("pyfunc predict (answers with entity spans)", ours,
                    "one bucketed forward pass (the floor)", forward, ("<=", 1.15)))  # fmt: skip
    rest = infer["REST"]
    in_process = rest["in process s"]
    for workers, served in rest["servers"].items():
        wall = median(served["wall_s"])
        p50, p99 = percentiles(served["latencies_s"], 50, 99)
        rows.append(row(
            f"REST batch {REST_BATCH}, {REST_CLIENTS} clients, --workers {workers} "
            f"({n_dev / wall:.0f} sentences/s; request p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms)",
            served["wall_s"],
            f"pyfunc predict in process, the same requests one by one ({n_dev / median(in_process):.0f}/s)",
            in_process, (">=", 0.6) if workers == 1 else None, speed_up=True,
        ))  # fmt: skip
    return rows


def cold_rows(runs: list[dict[str, Any]], epoch_counts: list[int]) -> list[dict[str, Any]]:
    """Rows of the cold trainings: whole-process wall and peak RSS against the bare fit."""
    from cold import medians, pair_ratios

    names = {"callback": "MlflowCallback()", "callback-eval-off": "MlflowCallback(eval off)",
             "manual": "MLflow by hand (run, params, epoch metrics, saved folder)",
             "autolog": "mlflow.tensorflow.autolog()"}  # fmt: skip
    rows = []
    for epochs in epoch_counts:
        for variant, name in names.items():
            walls = [r for r in runs if r["epochs"] == epochs and r["variant"] == variant]
            if not walls:
                continue
            target = COLD_WALL_TARGETS.get(epochs) if variant == "callback" else None
            rows.append({
                "measure": f"cold training, {epochs} epochs: {name}",
                "median_s": medians(runs, epochs, variant, "wall_s"), "baseline": "bare fit + model.save",
                "baseline_median_s": medians(runs, epochs, "bare", "wall_s"),
                "pairs": pair_ratios(runs, epochs, variant, "wall_s"),
                "value": median(pair_ratios(runs, epochs, variant, "wall_s")), "unit": "x",
                "target": ("<=", target) if target else None,
                "values": [r["wall_s"] for r in walls], "baseline_values": [],
            })  # fmt: skip
        extra = rss_differences(runs, epochs, "callback")
        if extra:
            rows.append(difference_row(f"cold training, {epochs} epochs: MlflowCallback() peak RSS",
                                       extra, "bare fit", "MiB", ("<=", COLD_RSS_TARGET_MIB)))  # fmt: skip
    if len(epoch_counts) >= 2:
        low, high = min(epoch_counts), max(epoch_counts)
        for variant, name in names.items():
            extra = {e: medians(runs, e, variant, "wall_s") - medians(runs, e, "bare", "wall_s")
                     for e in (low, high)}  # fmt: skip
            per_epoch = (extra[high] - extra[low]) / (high - low)
            fixed = extra[low] - per_epoch * low
            rows.append(difference_row(f"cold training: {name}, fixed cost per process",
                                       [fixed], f"bare fit, line through {low} and {high} epochs", "s"))  # fmt: skip
            rows.append(difference_row(f"cold training: {name}, cost per epoch",
                                       [per_epoch], f"bare fit, line through {low} and {high} epochs", "s"))  # fmt: skip
    return rows


def rss_differences(runs: list[dict[str, Any]], epochs: int, variant: str) -> list[float]:
    """Peak RSS of ``variant`` minus the bare fit's, pair by pair (MiB)."""
    by_pair: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["epochs"] == epochs:
            by_pair.setdefault(run["pair"], {})[run["variant"]] = run["peak_rss_mib"]
    return [p[variant] - p["bare"] for p in by_pair.values() if variant in p and "bare" in p]


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


def verdict(row: dict[str, Any]) -> str:
    if row["target"] is None:
        return "reference"
    comparison, bound = row["target"]
    ok = row["value"] <= bound if comparison == "<=" else row["value"] >= bound
    return "met" if ok else "MISSED"


def shown(row: dict[str, Any], value: float | None = None) -> str:
    """A row's figure (or ``value`` in its unit): ``1.45x``, ``+179 MiB``, ``+9.2 s``."""
    value = row["value"] if value is None else value
    if row["unit"] == "x":
        return f"{value:.2f}x"
    return f"{value:+.0f} MiB" if row["unit"] == "MiB" else f"{value:+.2f} s"


def target_text(row: dict[str, Any]) -> str:
    if row["target"] is None:
        return ""
    comparison, bound = row["target"]
    return f"{comparison} {shown(row, bound).lstrip('+')}"


# What each measured cost is made of, for the note under a missed target (by row prefix).
COST_OF = {
    "cold training": "a fresh process: importing MLflow and its SQLite store and opening the run "
    "(params, tags, dataset profiles), tracing the evaluation graph at the first epoch, one "
    "bucketed forward pass and entity scoring per epoch, and at the end the reports, charts and "
    "the model (Kashgari's files, the SavedModel, the MLmodel).",
    "warm training: MlflowCallback(eval off)": "params, tags and dataset profiles at the start, "
    "one batch of Keras metrics per epoch, a copy of the weights when an epoch is the best so far, "
    "and the model logged at the end (SQLite store, local artifacts).",
    "warm training: MlflowCallback()": "as with evaluation off, plus one bucketed forward pass "
    "and entity scoring of the validation data per epoch.",
    "entity evaluation, first": "tracing the inference graph (about 0.3 s for a BiLSTM-CRF), its "
    "first run (TensorFlow optimises the graph: about 0.2 s), the forward pass, tags to entity "
    "spans and the counts.",
    "pyfunc load_model": "MLflow reads the MLmodel and imports the loader; the loader checks the "
    "SavedModel's ops and loads it with tf.saved_model.load.",
    "pyfunc predict": "tokens to ids, sorting by length, padding per batch, one traced graph, "
    "and the answer dicts with entity spans.",
    "REST": "each request is JSON-encoded by a client thread, parsed by MLflow's scoring server, "
    "predicted, and the answer JSON-encoded and parsed back; the client threads run in the "
    "benchmark process and share the {cores} CPU(s) with the server, which in-process predict "
    "has to itself.",
}


def miss_note(row: dict[str, Any], cores: int) -> str:
    """Why a target was missed: what the cost is made of, and the miss against the pairs' spread."""
    comparison, bound = row["target"]
    pairs = ", ".join(shown(row, value) for value in row["pairs"])
    key = next((key for key in COST_OF if row["measure"].startswith(key)), "")
    made_of = COST_OF.get(key, "").format(cores=cores)
    beyond = [v for v in row["pairs"] if (v > bound if comparison == "<=" else v < bound)]
    if len(row["pairs"]) < 2:
        judged = "With one pair this run cannot tell a cost from noise."
    elif len(beyond) == len(row["pairs"]):
        judged = f"Every pair missed it ({pairs}): not noise."
    else:
        judged = f"{len(beyond)} of {len(row['pairs'])} pairs missed it ({pairs}): near the noise."
    return (f"- **{row['measure']}**: {shown(row)}, target {target_text(row)}. "
            f"It measures: {made_of} {judged}")  # fmt: skip


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
        ] + (["--tf-data-autotune"] if args.tf_data_autotune else [])  # fmt: skip
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
    if args.variant not in COLD_STEPS:
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
    elif args.variant in COLD_STEPS:
        print("RESULT " + json.dumps(cold_step(args.variant, workdir, dev_x, dev_y)))
    else:
        raise SystemExit(f"unknown variant {args.variant}")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from the parent.
    from serving import vm_hwm_kb

    print(f"PEAK_RSS_MB {vm_hwm_kb(os.getpid()) / 1024:.1f}")
    return 0


#: What ``cold_steps`` runs, each in a fresh process on the model ``inference_costs`` saved.
COLD_STEPS = ("model.save", "log_model", "first evaluation")


def cold_step(step: str, workdir: Path, dev_x: Any, dev_y: Any) -> dict[str, float]:
    """Worker mode: load the saved Kashgari model, then time ``step`` as the process's first."""
    import mlflow
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    import kashgari_mlflow
    from kashgari_mlflow._evaluation import evaluate_entities
    from kashgari_mlflow._tagger import Tagger

    model = BiLSTM_CRF_Model.load_model(str(workdir / "kashgari-model"))
    if step == "model.save":
        with tempfile.TemporaryDirectory() as folder:
            return {"seconds": timed(lambda: model.save(folder))[0]}
    if step == "log_model":
        with mlflow.start_run():
            return {"seconds": timed(lambda: kashgari_mlflow.log_model(model, "model"))[0]}
    tagger = Tagger.from_kashgari(model)

    def evaluation() -> Any:
        return evaluate_entities(
            model, dev_x, dev_y, scheme="default", batch_size=PREDICT_BATCH, tagger=tagger
        )

    first, _ = timed(evaluation)  # traces the graph, as the callback's first epoch does
    forward = [timed(lambda: tagger.predict_tags(dev_x, batch_size=PREDICT_BATCH))[0]
               for _ in range(3)]  # fmt: skip
    later = [timed(evaluation)[0] for _ in range(3)]
    return {
        "seconds": first,
        "forward_pass_s": median(forward),
        "later_evaluation_s": median(later),
    }


def cold_steps(args: argparse.Namespace, workdir: Path) -> dict[str, list[dict[str, float]]]:
    """Each of :data:`COLD_STEPS` in a fresh process per repeat, in a rotated order."""
    import mlflow

    store = workdir / "cold-steps.db"
    mlflow.MlflowClient(f"sqlite:///{store}").search_experiments()  # tables made untimed
    results: dict[str, list[dict[str, float]]] = {step: [] for step in COLD_STEPS}
    for repeat in range(args.repeats):
        for step in rotated(list(COLD_STEPS), repeat):
            command = [
                sys.executable, __file__, "--variant", step, "--workdir", str(workdir),
                "--train-sentences", str(args.train_sentences),
                "--dev-sentences", str(args.dev_sentences),
            ] + (["--tf-data-autotune"] if args.tf_data_autotune else [])  # fmt: skip
            env = {
                key: value
                for key, value in os.environ.items()
                if not key.startswith("MLFLOW_") and key != "PYTHONDONTWRITEBYTECODE"
            }
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"cold step {step} failed: {done.stderr[-3000:]}")
            results[step].append(json.loads(lines[-1][len("RESULT ") :]))
            print(f"  repeat {repeat + 1}: {step}, first call of a fresh process: "
                  f"{results[step][-1]['seconds']:.2f} s", flush=True)  # fmt: skip
    return results


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
    if not args.tf_data_autotune:
        from input_pipeline import turn_off_generator_autotune

        turn_off_generator_autotune()  # warm fits here, memory fits in their workers
    if args.variant:
        return run_variant(args)
    import_kashgari()  # and quiets Kashgari's DEBUG logger, which prints arrays
    data = load_data(args)
    *corpus, source = data
    load_before = os.getloadavg()
    print(f"Data: {source}; {len(corpus[0])} training and {len(corpus[2])} dev sentences, "
          f"{plural(args.epochs, 'epoch')}, {plural(args.repeats, 'repeat')}; {len(os.sched_getaffinity(0))} CPUs, "
          f"load average {load_before[0]:.2f}")  # fmt: skip
    peaks: dict[str, float] = {}
    cold: list[dict[str, Any]] = []
    if not args.no_cold:
        from cold import run_pairs

        print("Cold trainings (a fresh process per fit, the whole train set):")
        cold = run_pairs(
            args.cold_epochs, args.cold_pairs, list(COLD_VARIANTS), args.cold_train_sentences,
            autotune=args.tf_data_autotune,
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        print("Warm training overhead (one process):")
        train = training_overhead(corpus, args, workdir)
        print("Inference and serving costs:")
        infer = inference_costs(corpus, args, workdir)
        print("First calls of a fresh process:")
        steps = cold_steps(args, workdir)
        if not args.no_memory:
            print("Peak memory (a fresh process per variant):")
            peaks = peak_memory(args, workdir)
    load_after = os.getloadavg()
    rest = infer["REST"]
    rows = build_rows(train, infer, steps, cold, args.cold_epochs, len(corpus[2]))
    memory = memory_rows(peaks, rest) if peaks else []
    lines = report(rows, memory, infer, args, source, corpus, (load_before, load_after))
    print("\n".join(lines))
    write_raw_results(
        Path(args.results), "benchmarks/run.py", load_before,
        load_average_after=load_after, data=source, train_sentences=len(corpus[0]),
        dev_sentences=len(corpus[2]), args=vars(args), rows=rows, peak_memory=memory,
        raw={"warm training s": train, **{k: v for k, v in infer.items() if k != "REST"}},
        rest=rest, first_calls=steps, cold_trainings=cold, table=lines,
    )  # fmt: skip
    chart(rows, memory, Path(args.chart))
    print(f"Wrote {args.results} and {args.chart}")
    return 0


#: The cold trainings' variants (``benchmarks/cold.py``), bare first.
COLD_VARIANTS = ("bare", "manual", "callback", "callback-eval-off", "autolog")


def report(
    rows: list[dict[str, Any]], memory: list[dict[str, Any]], infer: dict[str, Any],
    args: argparse.Namespace, source: str, corpus: list[Any], loads: tuple[Any, Any],
) -> list[str]:  # fmt: skip
    """The printed tables and notes, as markdown lines."""
    rest = infer["REST"]
    lines = [
        f"{source}; warm rows: {len(corpus[0])} training and {len(corpus[2])} dev sentences, "
        f"{plural(args.epochs, 'epoch')}, {plural(args.repeats, 'repeat')}; cold trainings: "
        f"{args.cold_train_sentences or 'all'} training sentences, "
        f"{plural(args.cold_pairs, 'pair')}; {rest['cores']} CPUs, load "
        f"average {loads[0][0]:.2f} before and {loads[1][0]:.2f} after.",
        "",
        "| measure | median (s) | vs | its median (s) | median of pairs | pairs | target | |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]  # fmt: skip
    for line in rows:
        median_s = "" if line["median_s"] is None else f"{line['median_s']:.3f}"
        base_s = "" if line["baseline_median_s"] is None else f"{line['baseline_median_s']:.3f}"
        pairs = ", ".join(shown(line, value) for value in line["pairs"])
        lines.append(f"| {line['measure']} | {median_s} | {line['baseline']} | {base_s} "
                     f"| {shown(line)} | {pairs} | {target_text(line)} | {verdict(line)} |")  # fmt: skip
    lines += ["", f"Tags of pyfunc predict identical to Kashgari's predict on all "
              f"{len(corpus[2])} sentences: {infer['tags identical']}."]  # fmt: skip
    for workers, served in rest["servers"].items():
        lines.append(f"REST --workers {workers}: tags identical to in-process pyfunc: "
                     f"{served['tags identical']}; whole answers identical: {served['answers identical']}.")  # fmt: skip
    missed = [line for line in rows if verdict(line) == "MISSED"]
    if missed:
        lines += ["", "Notes on missed targets:", ""]
        lines += [miss_note(line, rest["cores"]) for line in missed]
    if memory:
        lines += ["", "| peak memory (VmHWM) | MB | over baseline (MB) |", "|---|---:|---:|"]
        for line in memory:
            over = "" if line["over_baseline_mb"] is None else f"{line['over_baseline_mb']:.0f}"
            lines.append(f"| {line['variant']} | {line['peak_mb']:.0f} | {over} |")
    return lines


def chart(rows: list[dict[str, Any]], memory: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    heights = [len(rows) + 1.5] + ([len(memory) + 1.5] if memory else [])
    figure = Figure(figsize=(9, 0.42 * sum(heights) + 0.5), dpi=110)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    axes = figure.add_subplot(grid[0])
    colors = {"met": "#3b7dd8", "MISSED": "#d8503b", "reference": "#9a9a9a"}
    rows = [line for line in rows if line["unit"] == "x"]
    bars = axes.barh([line["measure"].split(" (")[0] for line in rows][::-1],
                     [line["value"] for line in rows][::-1],
                     color=[colors[verdict(line)] for line in rows][::-1])  # fmt: skip
    axes.bar_label(bars, fmt="%.2f", padding=3)
    axes.set_xlim(0, 1.15 * max(line["value"] for line in rows))
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
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
