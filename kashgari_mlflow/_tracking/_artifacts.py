"""The run's text and chart artifacts: reports, label list, config, model summary, curves.

Everything is redacted before upload (see :mod:`kashgari_mlflow._redaction`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from kashgari_mlflow._error_analysis import ErrorAnalysis
from kashgari_mlflow._metrics import EntityReport
from kashgari_mlflow._params import model_params
from kashgari_mlflow._redaction import Redactor
from kashgari_mlflow._tracking._runs import TrackedRun
from kashgari_mlflow._tracking._tables import log_table_rows


class MetricHistory:
    """Every metric value of one ``fit`` by step, for the learning curves."""

    def __init__(self) -> None:
        self.points: dict[str, list[tuple[int, float]]] = {}

    def record(self, metrics: Mapping[str, float], step: int) -> None:
        """Remember the metrics of ``step``."""
        for key, value in metrics.items():
            self.points.setdefault(key, []).append((step, value))


def log_reports(
    run: TrackedRun,
    kash_model: Any,
    tf_model: Any,
    task: str,
    report: EntityReport | None,
    history: MetricHistory,
) -> None:
    """Upload the labels, config, model summary, the report of the logged epoch and charts.

    A failure is the run's failure policy's to handle: by default a warning.

    Args:
        run: The run to upload to.
        kash_model: The Kashgari model.
        tf_model: Its Keras network (for the summary).
        task: ``"labeling"`` (``entity_report/``) or ``"classification"`` (``class_report/``).
        report: The evaluation report of the logged epoch, if any.
        history: The fit's metrics, for the learning curves.
    """
    with run.sender.policy.guard("log the run's reports"):
        _log_reports(run.sender.client, run.run_id, kash_model, tf_model, task, report, history)


def _log_reports(
    client: Any,
    run_id: str,
    kash_model: Any,
    tf_model: Any,
    task: str,
    report: EntityReport | None,
    history: MetricHistory,
) -> None:
    redactor = Redactor()

    def log_dict(content: Any, path: str) -> None:
        client.log_dict(run_id, redactor.scrub(content, f"artifact {path}"), path)

    def log_text(content: str, path: str) -> None:
        client.log_text(run_id, redactor.scrub(content, f"artifact {path}"), path)

    labels = model_params(kash_model).get("labels", [])
    log_dict({"labels": labels}, "kashgari/labels.json")
    log_dict(model_config(kash_model), "kashgari/model_config.json")
    log_text(model_summary(tf_model), "kashgari/model_summary.txt")
    kind = "entity" if task == "labeling" else "class"
    if report is not None:
        _log_report_files(client, run_id, report, f"{kind}_report", redactor)
    _log_charts(client, run_id, kind, report, history, redactor)


def _log_report_files(
    client: Any, run_id: str, report: EntityReport, folder: str, redactor: Redactor
) -> list[str]:
    """``<folder>/report.txt`` and ``report.json``; their paths."""
    paths = [f"{folder}/report.txt", f"{folder}/report.json"]
    client.log_text(run_id, redactor.scrub(report.to_text(), f"artifact {paths[0]}"), paths[0])
    client.log_dict(run_id, redactor.scrub(report.to_dict(), f"artifact {paths[1]}"), paths[1])
    return paths


def _log_f1_chart(
    client: Any, run_id: str, report: EntityReport, kind: str, data: str, redactor: Redactor
) -> list[str]:
    """``plots/<kind>_f1_by_type.png`` (none without matplotlib); its path."""
    try:
        from kashgari_mlflow._plots import f1_by_type
    except ImportError:  # matplotlib is optional for charts
        return []
    with tempfile.TemporaryDirectory() as folder:
        bars = os.path.join(folder, f"{kind}_f1_by_type.png")
        scores = {redactor.text(name): score.f1 for name, score in report.per_type.items()}
        if not f1_by_type(scores, bars, f"{kind.capitalize()} F1 by type ({data})"):
            return []
        client.log_artifact(run_id, bars, "plots")
    return [f"plots/{kind}_f1_by_type.png"]


def _log_charts(
    client: Any,
    run_id: str,
    kind: str,
    report: EntityReport | None,
    history: MetricHistory,
    redactor: Redactor,
) -> None:
    try:
        from kashgari_mlflow._plots import learning_curves
    except ImportError:  # matplotlib is optional for charts
        return
    with tempfile.TemporaryDirectory() as folder:
        curves = os.path.join(folder, "learning_curves.png")
        if learning_curves(history.points, curves):
            client.log_artifact(run_id, curves, "plots")
    if report is not None:
        _log_f1_chart(client, run_id, report, kind, "validation", redactor)


def log_error_analysis(
    run: TrackedRun, logged: tuple[int, ErrorAnalysis] | None, x: Sequence[Sequence[str]] | None
) -> None:
    """Upload the logged epoch's error analysis for people to read, under ``error_analysis/``.

    ``type_confusion.json`` and ``plots/entity_type_confusion.png`` (gold type x
    predicted type), ``error_sentences.json`` (an MLflow table of the sentences
    with errors, most first, capped), and ``errors.html`` (gold and predicted
    entities of those sentences). The table is one file: a later fit in the same
    run appends its rows (the ``epoch`` column tells them apart), so MLflow's tag
    listing a run's tables stays short.

    Args:
        run: The run to upload to.
        logged: ``(step, analysis)`` of the logged epoch, or None (nothing is uploaded).
        x: The evaluated sentences' tokens.
    """
    if logged is None or x is None:
        return
    with run.sender.policy.guard("log the error analysis"):
        _log_error_analysis(run.sender.client, run.run_id, *logged, x)


def log_evaluation_artifacts(
    client: Any,
    run_id: str,
    report: EntityReport,
    analysis: ErrorAnalysis,
    x: Sequence[Sequence[str]],
) -> list[str]:
    """Upload a model evaluation's report and error analysis (the callback's files, no epoch).

    ``entity_report/report.txt`` and ``report.json``, ``plots/entity_f1_by_type.png``
    and everything :func:`log_error_analysis` uploads. Errors propagate: an
    evaluation that cannot record its results has failed.

    Returns:
        The artifact paths uploaded, relative to the run's artifact root.
    """
    redactor = Redactor()
    paths = _log_report_files(client, run_id, report, "entity_report", redactor)
    paths += _log_error_analysis(client, run_id, None, analysis, x)
    paths += _log_f1_chart(client, run_id, report, "entity", "evaluation", redactor)
    return paths


def _log_error_analysis(
    client: Any,
    run_id: str,
    step: int | None,
    analysis: ErrorAnalysis,
    x: Sequence[Sequence[str]],
) -> list[str]:
    from kashgari_mlflow._error_artifacts import error_page, error_rows, type_confusion

    redactor = Redactor()
    # Tokens are masked before the page escapes them (an escaped secret is no longer
    # the secret's text), and the page is masked again in both forms.
    x = redactor.scrub([list(sentence) for sentence in x], "artifact error_analysis")
    confusion = redactor.scrub(type_confusion(analysis), "artifact error_analysis")
    client.log_dict(run_id, confusion, "error_analysis/type_confusion.json")
    paths = ["error_analysis/type_confusion.json"]
    rows = redactor.scrub(error_rows(analysis, x, step), "artifact error_analysis")
    if rows:
        log_table_rows(client, run_id, rows, "error_analysis/error_sentences.json")
        paths.append("error_analysis/error_sentences.json")
    page = redactor.scrub(redactor.html(error_page(analysis, x, step)), "artifact error_analysis")
    client.log_text(run_id, page, "error_analysis/errors.html")
    paths.append("error_analysis/errors.html")
    try:
        from kashgari_mlflow._plots import type_confusion_chart
    except ImportError:  # matplotlib is optional for charts
        return paths
    title = "Entity types, gold x predicted" + ("" if step is None else f" (step {step})")
    with tempfile.TemporaryDirectory() as folder:
        chart = os.path.join(folder, "entity_type_confusion.png")
        if type_confusion_chart(confusion, chart, title):
            client.log_artifact(run_id, chart, "plots")
            paths.append("plots/entity_type_confusion.png")
    return paths


def model_summary(tf_model: Any) -> str:
    """Keras' ``summary()`` of the network, as text."""
    lines: list[str] = []
    tf_model.summary(print_fn=lines.append, line_length=110)
    return "\n".join(lines) + "\n"


def model_config(kash_model: Any) -> dict[str, Any]:
    """Kashgari's config of the model without the network JSON and the vocabularies."""
    config: dict[str, Any] = kash_model.to_dict()
    config.pop("tf_model", None)  # the network JSON is in the logged model itself
    for block in ("text_processor", "label_processor"):
        config.get(block, {}).get("config", {}).pop("vocab2idx", None)
    config.get("embedding", {}).pop("embed_model", None)
    return config
