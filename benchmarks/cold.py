"""What tracking costs a training as users run it: one fresh process per fit.

    uv run python benchmarks/cold.py                       # WNUT-17 when ../shared has it
    uv run python benchmarks/cold.py --epochs 3 10 --pairs 3

Each variant is a fresh ``python`` process that imports what it needs, builds
a ``BiLSTM_CRF_Model(sequence_length=40)``, fits it (batch 64, the dev set as
validation) and exits:

- ``bare``: the fit, then ``model.save`` (what a user without a tracker keeps);
- ``bare-noop``: the same with a Keras callback that does nothing, to check
  that a callback list alone changes nothing;
- ``manual``: the bare fit and ``model.save``, then the least a user tracking
  by hand with MLflow writes: a run, a few params, Keras' epoch metrics from
  the fit's ``History`` and the saved folder as artifacts (MLflow's own cost:
  importing it, opening the SQLite store, the run);
- ``callback``: the fit with ``MlflowCallback()`` (everything on);
- ``callback-eval-off``: ``MlflowCallback(eval_every_n_epochs=0)``;
- ``callback-no-prefetch``: ``MlflowCallback()`` without the background import of
  matplotlib during the epochs (does that thread pay on this machine?);
- ``autolog``: ``mlflow.tensorflow.autolog()``, then the fit.

Every variant runs with tf.data's autotuning of Keras' generator input turned
off (``--tf-data-autotune`` keeps it): TensorFlow 2.15 can leave a process idle
for half a minute when that input's iterator is destroyed, in whichever
variant it likes (:mod:`input_pipeline`, docs/benchmarks.md "Some fits stall").

Tracking variants log to ``sqlite:///mlflow.db`` in the process's working
directory, a copy of a store migrated once beforehand: a user's first run
pays MLflow's schema migration once, every later run finds the tables there.

Every process imports from compiled bytecode, as after ``pip install`` (which
compiles it): one untimed process of each variant, on a few sentences, first
writes what is missing (``PYTHONDONTWRITEBYTECODE`` is cleared for the
children) and brings every variant's files into the page cache alike.

Within each pair every variant runs once, in an order rotated every pair. The
whole-process wall time is taken from the parent (start to exit), the peak
resident memory (VmHWM) and the time inside ``fit`` from the child; the
seconds the child barely ran and the machine's counters around it
(:func:`stalled_seconds`, :func:`machine_counters`) from the parent. The
callback variants also time the callback's own hooks (``hooks_s``: seconds
inside ``on_train_begin``, each ``on_epoch_end`` and ``on_train_end``, wall and
the process's CPU). Every child also records the seconds from its start to
``fit`` (``before_fit_s``) and each full collection of Python's garbage
collector during ``fit`` (``full_gc_in_fit``: seconds, objects collected). The
wall time less ``before_fit_s`` and ``until_exit_s`` (from ``fit`` to the
child's last line) is the process's exit, plus the interpreter's own start.
Ratios to
``bare`` are taken within each pair; their median is the figure. From two
epoch counts the fixed cost per process and the cost per epoch are separated
(a line through the two medians). Raw results go to ``docs/benchmarks/cold.json``
(``--results`` to change).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
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
RESULTS = ROOT / "docs" / "benchmarks" / "cold.json"
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from raw_results import write_raw_results  # noqa: E402 - after the sys.path line

#: When this process started running this file (a child: before its imports).
PROCESS_STARTED = time.perf_counter()

VARIANTS = (
    "bare",
    "bare-noop",
    "manual",
    "callback",
    "callback-eval-off",
    "callback-no-prefetch",
    "autolog",
)
SEQUENCE_LENGTH = 40
BATCH_SIZE = 64


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[3, 10], help="default: 3 10")
    parser.add_argument("--pairs", type=int, default=3, help="default: 3")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--train-sentences", type=int, help="default: the whole train set")
    parser.add_argument(
        "--baseline", choices=("bare", "bare-noop"), default="bare", help="default: bare"
    )
    parser.add_argument("--results", default=str(RESULTS), help="default: %(default)s")
    parser.add_argument(
        "--tf-data-autotune",
        action="store_true",
        help="keep tf.data's autotuning of Keras' generator input (off by default: see "
        "benchmarks/input_pipeline.py)",
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--child-epochs", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def load_data(train_sentences: int | None) -> tuple[Any, Any, Any, Any, str]:
    from kashgari_mlflow import read_conll

    if WNUT.is_dir():
        train_x, train_y = read_conll(WNUT / "train.conll")
        dev_x, dev_y = read_conll(WNUT / "dev.conll")
        source = "WNUT-17 (../shared/data/wnut17)"
    else:
        from demo_corpus import demo_corpus

        train_x, train_y, dev_x, dev_y = demo_corpus(3000, 1000)
        source = "generated demo corpus (../shared/data/wnut17 not found)"
    if train_sentences:
        train_x, train_y = train_x[:train_sentences], train_y[:train_sentences]
    return train_x, train_y, dev_x, dev_y, source


def child(variant: str, epochs: int, train_sentences: int | None, autotune: bool) -> int:
    """Worker mode: one fit as a user's script runs it; prints one JSON line."""
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    if not autotune:
        from input_pipeline import turn_off_generator_autotune

        turn_off_generator_autotune()

    train_x, train_y, dev_x, dev_y, _ = load_data(train_sentences)
    callbacks: list[Any] = []
    hooks: dict[str, list[list[float]]] | None = None
    if variant == "bare-noop":
        import tensorflow as tf

        callbacks.append(tf.keras.callbacks.Callback())
    if variant == "autolog":
        import mlflow

        mlflow.tensorflow.autolog(silent=True)
    elif variant.startswith("callback"):
        from kashgari_mlflow import MlflowCallback

        if variant == "callback-no-prefetch":
            from kashgari_mlflow._tracking import _prefetch

            _prefetch._started = True  # as if started: the callback starts no import thread
        off = variant == "callback-eval-off"
        callback = MlflowCallback(eval_every_n_epochs=0) if off else MlflowCallback()
        hooks = time_hooks(callback)
        callbacks.append(callback)
    model = BiLSTM_CRF_Model(sequence_length=SEQUENCE_LENGTH)
    full_collections: list[list[float]] = []
    watch = full_collection_timer(full_collections)
    gc.callbacks.append(watch)
    started = time.perf_counter()
    history = model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=BATCH_SIZE, epochs=epochs,
        callbacks=callbacks, fit_kwargs={"verbose": 0},
    )  # fmt: skip
    fit_s = time.perf_counter() - started
    gc.callbacks.remove(watch)
    if variant.startswith("bare") or variant == "manual":
        model.save("saved-model")
    if variant == "manual":
        log_by_hand(history.history, epochs)
    from serving import vm_hwm_kb

    print("RESULT " + json.dumps({
        "fit_s": fit_s, "until_exit_s": time.perf_counter() - started,
        "before_fit_s": started - PROCESS_STARTED, "full_gc_in_fit": full_collections,
        "peak_rss_mib": vm_hwm_kb(os.getpid()) / 1024,
        **({"hooks_s": hooks} if hooks is not None else {}),
    }), flush=True)  # fmt: skip
    return 0


def full_collection_timer(into: list[list[float]]) -> Callable[[str, dict[str, int]], None]:
    """A ``gc.callbacks`` entry: appends ``[seconds, objects collected]`` per full collection."""
    began: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            began[:] = [time.perf_counter()]
        elif began:
            into.append([time.perf_counter() - began[0], info["collected"]])

    return watch


def time_hooks(callback: Any) -> dict[str, list[list[float]]]:
    """Wrap the callback's hooks; ``{hook: [[wall_s, cpu_s], ...]}`` fills as they run."""
    spent: dict[str, list[list[float]]] = {}
    for name in ("on_train_begin", "on_epoch_end", "on_train_end"):
        hook = getattr(callback, name)

        def timed(*args: Any, _hook: Any = hook, _name: str = name, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return _hook(*args, **kwargs)
            finally:
                spent.setdefault(_name, []).append(
                    [time.perf_counter() - wall, time.process_time() - cpu]
                )

        setattr(callback, name, timed)
    return spent


def log_by_hand(history: dict[str, list[float]], epochs: int) -> None:
    """What a user tracking by hand writes: a run, params, epoch metrics, the saved folder."""
    import mlflow

    with mlflow.start_run():
        mlflow.log_params(
            {"sequence_length": SEQUENCE_LENGTH, "batch_size": BATCH_SIZE, "epochs": epochs}
        )
        for step in range(len(next(iter(history.values()), []))):
            mlflow.log_metrics({key: values[step] for key, values in history.items()}, step=step)
        mlflow.log_artifacts("saved-model", "model")


def run_child(
    variant: str, epochs: int, train_sentences: int | None, store: Path, autotune: bool = False
) -> dict[str, Any]:
    """One fresh process of ``variant``: its wall time from here, and what it measured."""
    folder = Path(tempfile.mkdtemp(prefix=f"cold-{variant}-"))
    try:
        shutil.copy(store, folder / "mlflow.db")
        command = [sys.executable, __file__, "--child", variant, "--child-epochs", str(epochs)]
        if train_sentences:
            command += ["--train-sentences", str(train_sentences)]
        if autotune:
            command.append("--tf-data-autotune")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("MLFLOW_") and key != "PYTHONDONTWRITEBYTECODE"
        }
        machine_before = machine_counters()
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            child = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=err)
            try:
                stalled = stalled_seconds(child)
            except BaseException:  # Ctrl-C or the timeout: no fit left running in its folder
                child.kill()
                child.wait()
                raise
            wall = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        machine = {key: value - machine_before[key] for key, value in machine_counters().items()}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} ({epochs} epochs) failed: {stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    return {"wall_s": wall, **result, **machine, "stalled_s": stalled}


#: A sample (about a second) in which the child used fewer clock ticks of CPU
#: than this (a tenth of a second at Linux' 100 ticks/s) is counted as stalled.
STALLED_TICKS = 10


def stalled_seconds(child: subprocess.Popen[Any], timeout_s: float = 3600.0) -> float:
    """Wait for ``child``, sampling its CPU time each second; the seconds it barely ran.

    A fit computes on both cores; a sample with under :data:`STALLED_TICKS` of
    the child's own CPU time is a second it spent asleep (0 where ``/proc`` is
    missing). Samples are about a second apart, so a stall counts to within a
    second either way, and one under two seconds may not count at all; CPU
    time of the child's own subprocesses is not its own.
    """
    stat = Path(f"/proc/{child.pid}/stat")
    stalled, previous = 0.0, None
    deadline = time.monotonic() + timeout_s
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            raise RuntimeError(f"{child.args} ran over {timeout_s:.0f} s")
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cpu = int(fields[11]) + int(fields[12])  # utime, stime, in clock ticks
        except (OSError, IndexError, ValueError):
            cpu = None
        if cpu is not None and previous is not None and cpu - previous < STALLED_TICKS:
            stalled += 1.0
        previous = cpu
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1.0)
    return stalled


def machine_counters() -> dict[str, float]:
    """What tells a slow process from a busy machine, as running totals.

    ``cpu_s``: CPU time of this process's finished children (the fit's process
    did more work when it grows with the wall time); ``steal_s``: time the
    hypervisor gave this machine's CPUs to others; ``cpu_pressure_s``: time some
    runnable task waited for a CPU (Linux PSI, the whole machine: a fit with
    more threads than cores adds to it itself); ``refault_mib``: file pages read
    back after the kernel had dropped them (a machine that pages out idle memory
    makes processes wait for their own libraries). Each counter the machine
    lacks is 0.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "steal_s": _proc_counter(_steal_s),
        "cpu_pressure_s": _proc_counter(_cpu_pressure_s),
        "refault_mib": _proc_counter(_refault_mib),
    }


def _proc_counter(read: Callable[[], float]) -> float:
    try:
        return read()
    except (OSError, IndexError, KeyError, ValueError):
        return 0.0


def _steal_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")


def _cpu_pressure_s() -> float:
    some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    return int(some.rsplit("total=", 1)[1]) / 1e6


def _refault_mib() -> float:
    vmstat = dict(line.split() for line in Path("/proc/vmstat").read_text().splitlines())
    return int(vmstat["workingset_refault_file"]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def migrated_store(folder: Path) -> Path:
    import mlflow

    path = folder / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def rotated(items: list[Any], repeat: int) -> list[Any]:
    """``items`` in the order of repeat number ``repeat``: each repeat starts one later."""
    shift = repeat % len(items)
    return items[shift:] + items[:shift]


def run_pairs(
    epoch_counts: list[int],
    pairs: int,
    variants: list[str],
    train_sentences: int | None,
    log: Callable[[str], None] = lambda line: print(line, flush=True),
    baseline: str = "bare",
    autotune: bool = False,
) -> list[dict[str, Any]]:
    """Every process of a cold comparison: warm-up, then ``pairs`` rotated pairs per epoch count.

    Returns:
        One dict per timed process: ``pair``, ``epochs``, ``variant`` and its measurements.
    """
    variants = [baseline, *[v for v in variants if v != baseline]]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = migrated_store(Path(folder))
        for variant in variants:  # untimed: bytecode and page cache, alike for every variant
            run_child(variant, 1, 64, store, autotune)
        for pair in range(pairs):
            for epochs in epoch_counts:
                for variant in rotated(variants, pair):
                    result = run_child(variant, epochs, train_sentences, store, autotune)
                    runs.append({"pair": pair, "epochs": epochs, "variant": variant, **result})
                    log(f"  pair {pair} {epochs:3d} epochs {variant:20s} " + ", ".join(
                        f"{k} {v:.1f}" for k, v in result.items() if isinstance(v, float)))  # fmt: skip
    return runs


def pair_ratios(
    runs: list[dict[str, Any]], epochs: int, variant: str, key: str, baseline: str = "bare"
) -> list[float]:
    by_pair: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["epochs"] == epochs:
            by_pair.setdefault(run["pair"], {})[run["variant"]] = run[key]
    return [p[variant] / p[baseline] for p in by_pair.values() if variant in p and baseline in p]


def medians(runs: list[dict[str, Any]], epochs: int, variant: str, key: str) -> float:
    return statistics.median(
        run[key] for run in runs if run["epochs"] == epochs and run["variant"] == variant
    )


def table(
    runs: list[dict[str, Any]], epoch_counts: list[int], variants: list[str], baseline: str = "bare"
) -> list[str]:
    lines = [
        f"| epochs | variant | wall (s) | wall / {baseline}, median of pairs | fit (s) "
        f"| peak RSS (MiB) | RSS - {baseline} (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for epochs in epoch_counts:
        base_rss = medians(runs, epochs, baseline, "peak_rss_mib")
        for variant in variants:
            wall = medians(runs, epochs, variant, "wall_s")
            ratios = pair_ratios(runs, epochs, variant, "wall_s", baseline)
            shown = ", ".join(f"{r:.2f}" for r in ratios)
            rss = medians(runs, epochs, variant, "peak_rss_mib")
            lines.append(
                f"| {epochs} | {variant} | {wall:.1f} | {statistics.median(ratios):.2f}x "
                f"({shown}) | {medians(runs, epochs, variant, 'fit_s'):.1f} | {rss:.0f} "
                f"| {rss - base_rss:+.0f} |"
            )
    lines += hook_table(runs, epoch_counts, variants, baseline)
    lines += outside_fit_table(runs, epoch_counts, variants)
    if len(epoch_counts) >= 2:
        low, high = min(epoch_counts), max(epoch_counts)
        lines += [
            "",
            "| variant | fixed cost per process (s) | cost per epoch (s) |",
            "|---|---|---|",
        ]
        for variant in variants:
            if variant == baseline:
                continue
            extra = {
                e: medians(runs, e, variant, "wall_s") - medians(runs, e, baseline, "wall_s")
                for e in (low, high)
            }
            per_epoch = (extra[high] - extra[low]) / (high - low)
            lines.append(f"| {variant} | {extra[low] - per_epoch * low:+.1f} | {per_epoch:+.2f} |")
    return lines


def hook_table(
    runs: list[dict[str, Any]], epoch_counts: list[int], variants: list[str], baseline: str
) -> list[str]:
    """Medians of the callback's hook times, wall / CPU of the process, and the CPU over bare."""
    rows: list[str] = []

    def hook(timed: list[dict[str, Any]], name: str, pick: slice) -> str:
        calls = [call for run in timed for call in run.get("hooks_s", {}).get(name, [])[pick]]
        if not calls:
            return "-"
        wall = statistics.median(call[0] for call in calls)
        return f"{wall:.2f} / {statistics.median(call[1] for call in calls):.2f}"

    for epochs in epoch_counts:
        base_cpu = medians(runs, epochs, baseline, "cpu_s")
        for variant in variants:
            timed = [r for r in runs if r["epochs"] == epochs and r["variant"] == variant]
            if not any("hooks_s" in run for run in timed):
                continue
            rows.append(
                f"| {epochs} | {variant} | {hook(timed, 'on_train_begin', slice(None))} "
                f"| {hook(timed, 'on_epoch_end', slice(0, 1))} "
                f"| {hook(timed, 'on_epoch_end', slice(1, None))} "
                f"| {hook(timed, 'on_train_end', slice(None))} "
                f"| {medians(runs, epochs, variant, 'cpu_s') - base_cpu:+.1f} |"
            )
    if not rows:
        return []
    return [
        "",
        "| epochs | variant | on_train_begin (s, wall / process CPU) | first on_epoch_end "
        "| later on_epoch_end, each | on_train_end | process CPU - bare (s) |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def outside_fit_table(
    runs: list[dict[str, Any]], epoch_counts: list[int], variants: list[str]
) -> list[str]:
    """Medians of the time before ``fit``, after the child's last line, and full collections."""
    rows: list[str] = []
    for epochs in epoch_counts:
        for variant in variants:
            timed = [
                r for r in runs
                if r["epochs"] == epochs and r["variant"] == variant and "before_fit_s" in r
            ]  # fmt: skip
            if not timed:
                continue
            before = statistics.median(r["before_fit_s"] for r in timed)
            after = statistics.median(
                r["wall_s"] - r["before_fit_s"] - r["until_exit_s"] for r in timed
            )
            count = statistics.median(len(r["full_gc_in_fit"]) for r in timed)
            spent = statistics.median(sum(c[0] for c in r["full_gc_in_fit"]) for r in timed)
            rows.append(
                f"| {epochs} | {variant} | {before:.2f} | {after:.2f} | {count:g} / {spent:.2f} |"
            )
    if not rows:
        return []
    return [
        "",
        "| epochs | variant | before fit (s) | after the last line, until exit (s) "
        "| full GC collections in fit (count / s) |",
        "|---|---|---|---|---|",
        *rows,
    ]


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args.child, args.child_epochs, args.train_sentences, args.tf_data_autotune)
    load_average = os.getloadavg()
    train_x, _, dev_x, _, source = load_data(args.train_sentences)
    print(f"data: {source}, {len(train_x)} train, {len(dev_x)} dev sentences", flush=True)
    variants = [args.baseline, *[v for v in args.variants if v != args.baseline]]
    runs = run_pairs(
        args.epochs, args.pairs, variants, args.train_sentences, baseline=args.baseline,
        autotune=args.tf_data_autotune,
    )  # fmt: skip
    lines = table(runs, args.epochs, variants, args.baseline)
    print("\n".join(lines))
    results = Path(args.results)
    write_raw_results(
        results, "benchmarks/cold.py", load_average,
        data=source, train_sentences=len(train_x), dev_sentences=len(dev_x),
        sequence_length=SEQUENCE_LENGTH, batch_size=BATCH_SIZE, baseline=args.baseline,
        tf_data_autotune=args.tf_data_autotune, runs=runs, table=lines,
    )  # fmt: skip
    print(f"raw results: {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
