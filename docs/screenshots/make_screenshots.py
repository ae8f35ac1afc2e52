"""Take the MLflow UI screenshots used in the docs, from three real training runs.

    uv run python docs/screenshots/make_screenshots.py

In a temporary folder it trains three BiLSTM-CRF models on the generated demo
corpus with ``examples/train_ner.py`` (different learning rates and batch
sizes, three epochs each) into one SQLite store and one experiment, starts
``mlflow server`` on 127.0.0.1, and photographs with headless Chromium (driven
by the ``playwright`` package, without ``playwright install``):

* ``docs/images/runs-table.png``: the experiment's runs table;
* ``docs/images/compare-runs.png``: the compare view of the three runs;
* ``docs/images/entity-f1-by-type.png``: the best run's
  ``plots/entity_f1_by_type.png`` artifact in the run page;
* ``docs/images/per-type-f1-chart.png``: ``val_entity_f1/<type>`` by epoch for
  the three runs.

Then it trains a BiLSTM-CRF on WNUT-17 (``--wnut17``, default
``../shared/data/wnut17`` beside the checkout), scores the logged model on the
WNUT-17 test set with ``python -m kashgari_mlflow evaluate`` (an evaluation run)
and photographs the error analysis:

* ``docs/images/error-analysis-page.png``: the training run's
  ``error_analysis/errors.html``;
* ``docs/images/entity-type-confusion.png``: the evaluation run's
  ``plots/entity_type_confusion.png``;
* ``docs/images/error-sentences-table.png``: the evaluation run's
  ``error_analysis/error_sentences.json`` table.

Chromium comes from Debian (``apt-get install chromium``); pass ``--chromium``
for another binary. The whole script takes a few minutes, mostly training.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
EXPERIMENT = "kashgari-ner"
# (run name, learning rate, batch size): three settings whose curves differ visibly.
SETTINGS = [
    ("lr-0.01-bs-32", 0.01, 32),
    ("lr-0.003-bs-32", 0.003, 32),
    ("lr-0.03-bs-64", 0.03, 64),
]
EPOCHS = 3
TRAIN_SENTENCES = 300
VIEWPORT = {"width": 1400, "height": 900}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The files the docs show; tests/test_docs_images.py checks the docs use exactly these.
OUTPUTS = (
    "runs-table.png",
    "compare-runs.png",
    "entity-f1-by-type.png",
    "per-type-f1-chart.png",
    "error-analysis-page.png",
    "entity-type-confusion.png",
    "error-sentences-table.png",
)
WNUT17 = ROOT.parent / "shared" / "data" / "wnut17"
WNUT_EXPERIMENT = "wnut17-error-analysis"
WNUT_EPOCHS = 10
UI_TIMEOUT_MS = 60_000


@dataclass
class Run:
    """A finished training run."""

    name: str
    run_id: str
    f1: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=CHROMIUM, help=f"Chromium binary ({CHROMIUM})")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep the store here and reuse its runs when present (default: a temporary folder)",
    )
    parser.add_argument(
        "--server-timeout", type=float, default=120.0, help="seconds to wait for mlflow server"
    )
    parser.add_argument(
        "--wnut17", type=Path, default=WNUT17, help=f"WNUT-17 CoNLL folder ({WNUT17})"
    )
    return parser.parse_args(argv)


def check_chromium(path: str) -> None:
    """Exit with instructions when the Chromium binary is missing."""
    if os.access(path, os.X_OK):
        return
    sys.exit(
        f"Chromium was not found at {path}. On Debian or Ubuntu install it with\n"
        "    sudo apt-get install -y chromium\n"
        "or pass the path of another Chromium or Chrome binary with --chromium PATH.\n"
        "(This script drives it with the playwright package; `playwright install` "
        "is not needed.)"
    )


def _environment(tracking_uri: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    for key in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        env.pop(key, None)
    return env


def _check_call(command: list[str], workdir: Path, env: dict[str, str], what: str) -> str:
    done = subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{what} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def train_runs(workdir: Path, tracking_uri: str) -> list[Run]:
    """Train the three runs with ``examples/train_ner.py``, or reuse those in the store."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    existing = _finished_runs(client)
    env = _environment(tracking_uri)
    for name, learning_rate, batch_size in SETTINGS:
        if name in existing:
            print(f"Reusing run {name}.")
            continue
        print(f"Training {name} ...", flush=True)
        command = [
            sys.executable, str(ROOT / "examples" / "train_ner.py"),
            "--epochs", str(EPOCHS),
            "--learning-rate", str(learning_rate),
            "--batch-size", str(batch_size),
            "--max-sentences", str(TRAIN_SENTENCES),
            "--experiment", EXPERIMENT,
            "--run-name", name,
        ]  # fmt: skip
        _check_call(command, workdir, env, f"Training {name}")
    runs = _finished_runs(client)
    return [runs[name] for name, _, _ in SETTINGS]


@dataclass
class ErrorAnalysisRuns:
    """The WNUT-17 training run and the evaluation run of its logged model."""

    experiment_id: str
    training: str
    evaluation: str


def error_analysis_runs(workdir: Path, tracking_uri: str, wnut17: Path) -> ErrorAnalysisRuns:
    """Train on WNUT-17 and evaluate the model on its test set, or reuse both runs."""
    import mlflow

    files = {split: wnut17 / f"{split}.conll" for split in ("train", "dev", "test")}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        sys.exit(f"WNUT-17 is needed for the error-analysis screenshots; missing {missing}. "
                 "Pass its folder with --wnut17 PATH.")  # fmt: skip
    client = mlflow.MlflowClient(tracking_uri)
    env = _environment(tracking_uri)
    names = {"training": "wnut17-bilstm-crf", "evaluation": "wnut17-test-evaluation"}
    if _named_run(client, names["training"]) is None:
        print(f"Training {names['training']} ({WNUT_EPOCHS} epochs) ...", flush=True)
        command = [
            sys.executable, str(ROOT / "examples" / "train_ner.py"),
            "--train", str(files["train"]), "--dev", str(files["dev"]),
            "--epochs", str(WNUT_EPOCHS), "--batch-size", "64",
            "--experiment", WNUT_EXPERIMENT, "--run-name", names["training"], "--predict",
        ]  # fmt: skip
        _check_call(command, workdir, env, "Training on WNUT-17")
    training = _named_run(client, names["training"])
    assert training is not None
    if _named_run(client, names["evaluation"]) is None:
        print("Evaluating the logged model on the WNUT-17 test set ...", flush=True)
        command = [
            sys.executable, "-m", "kashgari_mlflow", "evaluate",
            f"runs:/{training.info.run_id}/model", str(files["test"]),
            "--train-data", str(files["train"]),
            "--experiment", WNUT_EXPERIMENT, "--run-name", names["evaluation"],
        ]  # fmt: skip
        print(_check_call(command, workdir, env, "Evaluating on WNUT-17"), end="")
    evaluation = _named_run(client, names["evaluation"])
    assert evaluation is not None
    return ErrorAnalysisRuns(
        training.info.experiment_id, training.info.run_id, evaluation.info.run_id
    )


def _named_run(client: Any, name: str) -> Any:
    experiment = client.get_experiment_by_name(WNUT_EXPERIMENT)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"attributes.status = 'FINISHED' and attributes.run_name = '{name}'",
    )
    return found[0] if found else None


def _finished_runs(client: Any) -> dict[str, Run]:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return {}
    found = client.search_runs(
        [experiment.experiment_id], filter_string="attributes.status = 'FINISHED'"
    )
    return {
        run.info.run_name: Run(
            run.info.run_name, run.info.run_id, run.data.metrics.get("val_entity_f1", 0.0)
        )
        for run in found
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(workdir: Path, tracking_uri: str, timeout: float) -> Iterator[str]:
    """Run ``mlflow server`` on the store until the block ends; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", tracking_uri,
        "--workers", "1",
    ]  # fmt: skip
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_health(url, process, timeout, log_path)
        yield url
    finally:
        _stop(process)


def _wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"mlflow server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    sys.exit(f"mlflow server did not answer {url}/health within {timeout:g} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # start_new_session made the server the leader of its own group (uvicorn workers too).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 15)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 9)
        process.wait(timeout=10)


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-size:]


def shoot(
    url: str,
    experiment_id: str,
    runs: list[Run],
    errors: ErrorAnalysisRuns,
    chromium: str,
    out: Path,
) -> None:
    """Photograph the runs table, the compare view, the per-type F1 charts, the error analysis."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    compare = {
        "runs": json.dumps([run.run_id for run in runs]),
        "experiments": f'["{experiment_id}"]',
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            # MLflow 3.17 opens its assistant side panel on the first visit; keep it closed.
            context.add_init_script(
                "localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
                "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');"
            )
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            _runs_table(page, url, experiment_id, runs, out / "runs-table.png")
            _compare_view(page, url, compare, runs, out / "compare-runs.png")
            _artifact_view(
                page, url, experiment_id, _median(runs).run_id, "plots/entity_f1_by_type.png",
                out / "entity-f1-by-type.png",
            )  # fmt: skip
            _type_charts(page, url, experiment_id, runs, out / "per-type-f1-chart.png")
            _artifact_view(
                page, url, errors.experiment_id, errors.training, "error_analysis/errors.html",
                out / "error-analysis-page.png",
            )  # fmt: skip
            _artifact_view(
                page, url, errors.experiment_id, errors.evaluation,
                "plots/entity_type_confusion.png", out / "entity-type-confusion.png",
            )  # fmt: skip
            _artifact_view(
                page, url, errors.experiment_id, errors.evaluation,
                "error_analysis/error_sentences.json", out / "error-sentences-table.png",
            )  # fmt: skip
        finally:
            browser.close()


def _runs_table(page: Any, url: str, experiment_id: str, runs: list[Run], path: Path) -> None:
    page.goto(f"{url}/#/experiments/{experiment_id}/runs?workflowType=machine_learning")
    for run in runs:
        page.get_by_text(run.name, exact=True).first.wait_for(state="visible")
    _collapse_sidebar(page)
    page.get_by_role("button", name="Columns").click()
    menu = page.locator("[data-radix-popper-content-wrapper]").first
    menu.get_by_text("val_entity_f1", exact=True).wait_for(state="visible")
    shown = ["Dataset", "Source"]  # default columns, hidden to make room
    shown += [f"val_entity_f1{suffix}" for suffix in ("", "/LOC", "/ORG", "/PER")]
    shown += ["batch_size", "optimizer.learning_rate"]
    for column in shown:
        menu.get_by_text(column, exact=True).click()
    page.keyboard.press("Escape")
    menu.wait_for(state="hidden")
    page.get_by_role("columnheader", name="optimizer.learning_rate").first.wait_for()
    _settle(page)
    page.screenshot(path=path)


def _compare_view(
    page: Any, url: str, compare: dict[str, str], runs: list[Run], path: Path
) -> None:
    page.goto(f"{url}/#/compare-runs?{urllib.parse.urlencode(compare)}")
    page.get_by_text("Parallel Coordinates Plot").first.wait_for(state="visible")
    _collapse_sidebar(page)
    for run in runs:
        page.get_by_text(run.name, exact=True).first.wait_for(state="visible")
    # The plot starts with params and a metric MLflow picks; show the swept ones and F1.
    chosen = page.locator(".du-bois-light-select-selection-item")
    for label in ("batch_size", "optimizer.learning_rate"):
        chosen.filter(has_text=label).first.wait_for()
    for label in set(chosen.all_inner_texts()) - {"batch_size", "optimizer.learning_rate"}:
        item = chosen.filter(has=page.get_by_text(label.strip(), exact=True)).first
        item.locator(".du-bois-light-select-selection-item-remove").click()
        item.wait_for(state="detached")
    page.locator(".du-bois-light-select").nth(1).click()
    page.keyboard.type("val_entity_f1")
    page.locator(".du-bois-light-select-item-option[title='val_entity_f1']").first.click()
    page.keyboard.press("Escape")
    page.get_by_text("Comparing 3 Runs").click()
    chosen.filter(has_text="val_entity_f1").first.wait_for()
    _settle(page)
    page.screenshot(path=path)


def _artifact_view(
    page: Any, url: str, experiment_id: str, run_id: str, artifact: str, path: Path
) -> None:
    # A new document: within one run's page MLflow keeps the artifact already selected.
    page.goto("about:blank")
    page.goto(f"{url}/#/experiments/{experiment_id}/runs/{run_id}/artifacts/{artifact}")
    if artifact.endswith(".json"):  # a table MLflow shows as one ("View as table")
        page.get_by_text("View as table").first.wait_for(state="visible")
    else:
        page.get_by_text(artifact, exact=True).first.wait_for(state="visible")
    _collapse_sidebar(page)
    if artifact.endswith(".png"):
        page.wait_for_function(
            "() => [...document.images].some("
            "image => image.src.startsWith('blob:') && image.complete && image.naturalWidth > 0)"
        )
    elif artifact.endswith(".html"):
        page.frame_locator("iframe").first.locator("h1").first.wait_for(state="visible")
    else:
        page.get_by_text("error_count", exact=True).first.wait_for(state="visible")
    _settle(page)
    page.screenshot(path=path)


def _type_charts(page: Any, url: str, experiment_id: str, runs: list[Run], path: Path) -> None:
    page.goto(
        f"{url}/#/experiments/{experiment_id}/runs"
        "?workflowType=machine_learning&compareRunsMode=CHART"
    )
    _collapse_sidebar(page)
    page.get_by_placeholder("Search metric charts").fill("val_entity_f1/")
    types = ("LOC", "ORG", "PER")
    for entity in types:
        page.get_by_text(f"val_entity_f1/{entity}", exact=True).first.wait_for(state="visible")
    page.wait_for_function(
        "count => document.querySelectorAll('svg.main-svg .scatterlayer .trace').length >= count",
        arg=len(runs) * len(types),
    )
    _settle(page)
    page.screenshot(path=path)


def _collapse_sidebar(page: Any) -> None:
    """Fold MLflow's navigation sidebar away: more room for the runs, less unrelated UI."""
    # Folded, the sidebar shows icons only, so its "Settings" label disappears.
    label = page.locator("aside, nav").get_by_text("Settings", exact=True).first
    for _ in range(3):  # a click while the page still mounts can be lost
        page.get_by_role("button", name="Toggle sidebar").click()
        with contextlib.suppress(Exception):
            label.wait_for(state="hidden", timeout=5_000)
            return
    raise RuntimeError("MLflow's sidebar did not fold")


def _median(runs: list[Run]) -> Run:
    """The run in the middle by F1: on the demo corpus the best one often has 1.0 everywhere."""
    return sorted(runs, key=lambda run: run.f1)[len(runs) // 2]


def _settle(page: Any) -> None:
    """Wait, within bounds, for the network to go quiet and spinners to disappear."""
    with contextlib.suppress(Exception):
        page.wait_for_load_state("networkidle", timeout=15_000)
    spinner = page.locator("[class*='spinner'], [class*='Spinner'], [role='progressbar']")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and spinner.filter(visible=True).count():
        page.wait_for_timeout(200)
    page.wait_for_timeout(500)  # let charts finish their enter transition


def main(argv: list[str] | None = None) -> int:
    """Train, serve, photograph; return the exit status."""
    args = parse_args(argv)
    check_chromium(args.chromium)
    temporary = None
    if args.workdir is None:
        temporary = tempfile.mkdtemp(prefix="kashgari-mlflow-screenshots-")
        workdir = Path(temporary)
    else:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
        runs = train_runs(workdir, tracking_uri)
        for run in runs:
            print(f"  {run.name}: run {run.run_id}, val_entity_f1 {run.f1:.3f}")
        errors = error_analysis_runs(workdir, tracking_uri, args.wnut17)
        import mlflow

        experiment = mlflow.MlflowClient(tracking_uri).get_experiment_by_name(EXPERIMENT)
        with mlflow_server(workdir, tracking_uri, args.server_timeout) as url:
            print(f"mlflow server at {url}; taking screenshots ...", flush=True)
            shoot(url, experiment.experiment_id, runs, errors, args.chromium, args.out)
        for name in OUTPUTS:
            path = args.out / name
            print(f"Wrote {path} ({path.stat().st_size // 1024} KiB)")
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
