"""Charts logged at the end of training, drawn without pyplot's global state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _matplotlib_ready() -> None:
    """Let a background import of matplotlib finish before this thread imports it.

    Raises:
        RuntimeError: If it is still importing after
            :data:`~kashgari_mlflow._tracking._prefetch.WAIT_SECONDS`; importing
            beside it could hand this thread a half-initialised module.
    """
    from kashgari_mlflow._tracking import _prefetch

    if not _prefetch.wait_for_background_imports():
        raise RuntimeError(
            f"matplotlib was still being imported in the background after "
            f"{_prefetch.WAIT_SECONDS:g} s; the charts are skipped."
        )


def _figure(width: float, height: float) -> Any:
    _matplotlib_ready()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def learning_curves(history: Mapping[str, Sequence[tuple[int, float]]], path: str) -> bool:
    """Plot loss curves and entity F1 by epoch; return False when there is nothing to draw."""
    panels = [
        ("loss", [key for key in ("loss", "val_loss") if history.get(key)]),
        (
            "entity F1",
            [key for key in ("val_entity_f1", "val_entity_macro_f1") if history.get(key)],
        ),
    ]
    panels = [(title, keys) for title, keys in panels if keys]
    if not panels:
        return False
    figure = _figure(5.0 * len(panels), 3.6)
    from matplotlib.ticker import MaxNLocator  # after _figure: it waited for the imports

    for index, (title, keys) in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for key in keys:
            steps, values = zip(*history[key], strict=True)
            axes.plot(steps, values, marker="o", label=key)
        axes.set_title(title)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return True


def f1_by_type(scores: Mapping[str, float], path: str, title: str) -> bool:
    """Horizontal bar chart of F1 per entity type; return False when there are no types."""
    if not scores:
        return False
    names = sorted(scores, key=lambda name: scores[name])
    figure = _figure(6.0, 0.45 * len(names) + 1.4)
    axes = figure.add_subplot(1, 1, 1)
    bars = axes.barh(names, [scores[name] for name in names], color="#3b7dd8")
    axes.bar_label(bars, fmt="%.3f", padding=3)
    axes.set_xlim(0, 1.1)
    axes.set_xlabel("F1")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    return True


def type_confusion_chart(confusion: Mapping[str, Any], path: str, title: str) -> bool:
    """Heat map of gold type x predicted type counts; return False when it is empty.

    Args:
        confusion: What :func:`kashgari_mlflow._error_artifacts.type_confusion` returned.
        path: PNG file to write.
        title: The chart's title.
    """
    labels: list[str] = list(confusion["labels"])
    counts: list[list[int]] = confusion["gold_by_predicted"]
    if len(labels) < 2 or not any(any(row) for row in counts):
        return False
    size = 0.55 * len(labels) + 2.2
    figure = _figure(size + 1.0, size)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    high = max(max(row) for row in counts)
    for row, values in enumerate(counts):
        for column, value in enumerate(values):
            if value:
                color = "white" if value > high / 2 else "black"
                axes.text(column, row, str(value), ha="center", va="center", color=color)
    axes.set_xlabel("predicted type")
    axes.set_ylabel("gold type")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path)
    return True
