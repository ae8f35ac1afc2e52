"""What the per-epoch error analysis adds to an epoch's entity evaluation.

    uv run python benchmarks/error_analysis.py            # WNUT-17 when ../shared has it
    uv run python benchmarks/error_analysis.py --repeats 15

Trains ``BiLSTM_CRF_Model`` (1,500 WNUT-17 training sentences, 2 epochs), then
times, on the dev sentences, what the callback does after an epoch, with and
without the error analysis, alternated in an order rotated every repeat:

- ``entity scores``: one bucketed forward pass, the entity report, its metrics;
- ``with error analysis``: the same forward pass, the entity report and the
  error analysis from one span extraction, all their metrics.

Both reuse one tagger, traced and warmed before the first repeat, as the
callback does from its second evaluation on. The target is the median of the
pair ratios at most 1.10. Sending the metrics is timed apart: one
``log_batch`` of each variant's metrics to a local SQLite store. Raw results go
to ``docs/benchmarks/error_analysis.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "error_analysis.json"
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(Path(__file__).resolve().parent)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from cold import rotated  # noqa: E402
from raw_results import write_raw_results  # noqa: E402 - after the sys.path line
from run import load_data, new_model  # noqa: E402

TARGET = 1.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="default: 9")
    parser.add_argument("--train-sentences", type=int, default=1500, help="default: 1500")
    parser.add_argument("--dev-sentences", type=int, default=1009, help="default: 1009")
    parser.add_argument("--epochs", type=int, default=2, help="default: 2")
    args = parser.parse_args()

    import mlflow
    from mlflow.entities import Metric

    from kashgari_mlflow._compat import import_kashgari
    from kashgari_mlflow._error_analysis import analysis_metrics, surface_forms
    from kashgari_mlflow._evaluation import report_metrics, score_entities
    from kashgari_mlflow._metrics import entity_report
    from kashgari_mlflow._tagger import Tagger

    import_kashgari()
    load_average = os.getloadavg()
    train_x, train_y, dev_x, dev_y, source = load_data(args)
    model = new_model(train_x, train_y, dev_x, dev_y)
    model.fit(train_x, train_y, epochs=args.epochs, fit_kwargs={"verbose": 0})
    tagger = Tagger.from_kashgari(model)
    forms = surface_forms(train_x, train_y)

    def scores_only() -> dict[str, float]:
        predicted = tagger.predict_tags(dev_x, batch_size=64)
        return report_metrics(entity_report(dev_y, predicted))

    def with_analysis() -> dict[str, float]:
        predicted = tagger.predict_tags(dev_x, batch_size=64)
        report, analysis = score_entities(
            dev_x, dev_y, predicted, scheme="default", seen_forms=forms
        )
        return {**report_metrics(report), **analysis_metrics(analysis)}

    variants: dict[str, Callable[[], dict[str, float]]] = {
        "entity scores": scores_only,
        "with error analysis": with_analysis,
    }
    for run in variants.values():  # warm-up: trace and first run of the graph
        run()
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    metrics: dict[str, dict[str, float]] = {}
    for repeat in range(args.repeats):
        for name in rotated(list(variants), repeat):
            started = time.perf_counter()
            metrics[name] = variants[name]()
            seconds[name].append(time.perf_counter() - started)
    ratios = [
        a / b for a, b in zip(seconds["with error analysis"], seconds["entity scores"], strict=True)
    ]
    sending = send_times(mlflow, Metric, metrics, args.repeats)

    ratio = statistics.median(ratios)
    lines = [
        f"{source}; {len(train_x)} training sentences, {args.epochs} epochs; "
        f"{len(dev_x)} dev sentences, {args.repeats} repeats; load average "
        f"{load_average[0]:.2f} before.",
        "",
        "| measure | median (s) | metrics | vs entity scores, median of pairs | target | |",
        "|---|---:|---:|---:|---|---|",
        f"| entity scores (forward pass, report) | {statistics.median(seconds['entity scores']):.3f} "
        f"| {len(metrics['entity scores'])} | 1.00x | | reference |",
        f"| with error analysis | {statistics.median(seconds['with error analysis']):.3f} "
        f"| {len(metrics['with error analysis'])} | {ratio:.2f}x "
        f"({', '.join(f'{r:.2f}' for r in ratios)}) | <= {TARGET:.2f}x "
        f"| {'met' if ratio <= TARGET else 'MISSED'} |",
        "",
        "| sending one epoch's metrics (log_batch, local SQLite) | median (s) |",
        "|---|---:|",
        *[f"| {name} | {statistics.median(values):.3f} |" for name, values in sending.items()],
    ]
    print("\n".join(lines))
    write_raw_results(
        RESULTS, "benchmarks/error_analysis.py", load_average,
        data=source, train_sentences=len(train_x), dev_sentences=len(dev_x),
        seconds=seconds, pair_ratios=ratios, sending_seconds=sending,
        metric_counts={name: len(m) for name, m in metrics.items()}, table=lines,
    )  # fmt: skip
    print(f"raw results: {RESULTS.relative_to(ROOT)}")
    return 0


def send_times(
    mlflow: Any, metric: Any, metrics: dict[str, dict[str, float]], repeats: int
) -> dict[str, list[float]]:
    """Seconds of one ``log_batch`` of each variant's metrics, alternated, to a fresh store."""
    times: dict[str, list[float]] = {name: [] for name in metrics}
    with tempfile.TemporaryDirectory() as folder:
        client = mlflow.MlflowClient(f"sqlite:///{Path(folder) / 'mlflow.db'}")
        run_id = client.create_run("0").info.run_id
        for step in range(repeats):
            for name in rotated(list(metrics), step):
                batch = [
                    metric(key, value, int(time.time() * 1000), step)
                    for key, value in metrics[name].items()
                ]
                started = time.perf_counter()
                for chunk in range(0, len(batch), 1000):  # MLflow's limit per request
                    client.log_batch(run_id, metrics=batch[chunk : chunk + 1000])
                times[name].append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    raise SystemExit(main())
