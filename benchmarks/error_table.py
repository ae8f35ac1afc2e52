"""Writing the end of a fit's error table: MLflow's ``log_table`` against ours, in fresh processes.

    uv run python benchmarks/error_table.py

A SQLite store is prepared once with one experiment holding ``--runs`` runs,
each with a logged model, as a store looks after a few tracked trainings. Each
variant is then a fresh process on a copy of that store that starts a run,
uploads three small files first (as the end of a fit does before the table),
then writes a 200-row table of WNUT-17 dev sentences, timed:
``MlflowClient.log_table`` or ``kashgari_mlflow._tracking._tables.log_table_rows``.
A second write to the same table (a later fit in the same run appends) is timed
after it. Variants alternate, ``--pairs`` processes each; every time, and
whether a full garbage collection ran during it, goes to
``docs/benchmarks/error_table.json``. Needs MLflow 3 (logged models).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "error_table.json"
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from cold import rotated  # noqa: E402
from raw_results import write_raw_results  # noqa: E402 - after the sys.path line

VARIANTS = ("MlflowClient.log_table", "log_table_rows")
TABLE = "error_analysis/error_sentences.json"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs with a logged model (10)")
    parser.add_argument("--pairs", type=int, default=5, help="processes per variant (5)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    return parser.parse_args()


def table_rows() -> list[dict[str, Any]]:
    from kashgari_mlflow import read_conll

    dev = ROOT.parent / "shared" / "data" / "wnut17" / "dev.conll"
    sentences = read_conll(dev)[0][:200] if dev.is_file() else [["a", "b"]] * 200
    return [
        {"sentence": " ".join(tokens), "gold": "person: x", "predicted": "", "errors": "missed",
         "error_count": 1, "epoch": 2}
        for tokens in sentences
    ]  # fmt: skip


def child(variant: str, store: str) -> int:
    """Worker mode: time the table writes as the first of their kind in this process."""
    import gc

    import mlflow

    from kashgari_mlflow._tracking._tables import log_table_rows

    rows = table_rows()
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment_id = client.get_experiment_by_name("fits").experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    for name in ("labels", "model_config", "report"):
        client.log_dict(run_id, {"name": name}, f"kashgari/{name}.json")
    collections = []
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]))

    def write() -> float:
        begin = time.perf_counter()
        if variant == "log_table_rows":
            log_table_rows(client, run_id, rows, TABLE)
        else:
            client.log_table(run_id, {key: [row[key] for row in rows] for key in rows[0]}, TABLE)
        return time.perf_counter() - begin

    first = write()
    first_full = 2 in collections
    collections.clear()
    append = write()
    print("RESULT " + json.dumps({"first_s": first, "append_s": append,
                                  "full_collection_in_first": first_full,
                                  "full_collection_in_append": 2 in collections}))  # fmt: skip
    return 0


def prepare_store(path: Path, runs: int) -> None:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{path}")
    experiment_id = client.create_experiment("fits", artifact_location=str(path.parent / "art"))
    for _ in range(runs):
        run_id = client.create_run(experiment_id).info.run_id
        client.create_logged_model(experiment_id, name="model", source_run_id=run_id)
        client.set_terminated(run_id)


def main() -> int:
    args = parse_args()
    if args.child:
        return child(args.child, args.store)
    load_before = os.getloadavg()
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="kashgari-mlflow-table-") as folder:
        template = Path(folder) / "template" / "mlflow.db"
        template.parent.mkdir()
        prepare_store(template, args.runs)
        for pair in range(args.pairs):
            for variant in rotated(list(VARIANTS), pair):
                store = Path(folder) / f"{pair}-{variant}" / "mlflow.db"
                shutil.copytree(template.parent, store.parent)
                command = [sys.executable, __file__, "--child", variant, "--store", str(store)]
                done = subprocess.run(command, capture_output=True, text=True, timeout=600)
                lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
                if done.returncode != 0 or not lines:
                    raise RuntimeError(f"{variant} failed: {done.stderr[-3000:]}")
                results[variant].append(json.loads(lines[-1][len("RESULT ") :]))
    table = {
        variant: {key: statistics.median(run[key] for run in runs)
                  for key in ("first_s", "append_s")}
        for variant, runs in results.items()
    }  # fmt: skip
    print("| writer | first table of a fresh process, median (s) | appending to it, median (s) |")
    print("|---|---:|---:|")
    for variant, row in table.items():
        print(f"| `{variant}` | {row['first_s']:.3f} | {row['append_s']:.3f} |")
    write_raw_results(RESULTS, "benchmarks/error_table.py", load_before, runs=args.runs,
                      results=results, table=table)  # fmt: skip
    print(f"raw results: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
