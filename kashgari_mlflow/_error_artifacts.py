"""What a person looks at after a run: type confusion, the sentences with errors, as data and HTML.

Built from an :class:`~kashgari_mlflow._error_analysis.ErrorAnalysis` and the
sentences it scored. Every token is data from outside: the HTML page escapes
all of it, so a token such as ``<script>`` shows as text and runs nothing.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from typing import Any

from kashgari_mlflow._entities import Span
from kashgari_mlflow._error_analysis import ErrorAnalysis, Pair

#: Row or column of the confusion matrix for "no entity": spurious rows, missed columns.
NONE = "(none)"
#: Most sentences the error table and the HTML page show (those with the most errors).
MAX_TABLE_ROWS = 200
MAX_PAGE_SENTENCES = 50


def type_confusion(analysis: ErrorAnalysis) -> dict[str, Any]:
    """Gold type x predicted type over every pair, with a ``(none)`` row and column.

    A missed entity counts in its gold type's row under ``(none)``; a spurious
    one in the ``(none)`` row under its type. Correct pairs are on the diagonal
    with boundary errors of the same type; type errors are off it.

    Returns:
        ``{"labels": [...], "gold_by_predicted": [[count, ...], ...]}`` (rows are gold).
    """
    cells: Counter[tuple[str, str]] = Counter()
    for (gold, predicted), count in _pair_types(analysis).items():
        cells[(gold, predicted)] += count
    types = sorted({t for cell in cells for t in cell} - {NONE})
    labels = [*types, NONE]
    return {
        "labels": labels,
        "gold_by_predicted": [[cells[(g, p)] for p in labels] for g in labels],
    }


def error_rows(
    analysis: ErrorAnalysis,
    x: Sequence[Sequence[str]],
    epoch: int | None,
    limit: int = MAX_TABLE_ROWS,
) -> list[dict[str, Any]]:
    """One row per sentence with errors, most errors first, at most ``limit`` rows.

    Each row: ``sentence``, ``gold`` and ``predicted`` spans as ``TYPE: words``
    joined by ``; ``, ``errors`` (the kinds, in sentence order), ``error_count``
    and, during training, ``epoch`` (None, as for a model's evaluation, leaves it out).
    """
    ranked = _most_errors_first(analysis)
    rows = []
    for index, pairs in ranked[:limit]:
        tokens = x[index]
        row = {
            "sentence": " ".join(tokens),
            "gold": _spans_text(tokens, [p.gold for p in pairs if p.gold is not None]),
            "predicted": _spans_text(tokens, [p.predicted for p in pairs if p.predicted]),
            "errors": ", ".join(_kinds(pairs)),
            "error_count": len(_kinds(pairs)),
        }
        rows.append(row if epoch is None else {**row, "epoch": epoch})
    return rows


def error_page(
    analysis: ErrorAnalysis,
    x: Sequence[Sequence[str]],
    epoch: int | None,
    limit: int = MAX_PAGE_SENTENCES,
) -> str:
    """An HTML page showing gold and predicted entities of the sentences with most errors.

    Every token, type and count is escaped. The page has no script and loads nothing.
    ``epoch`` None (a model's evaluation) leaves the epoch out of the title.
    """
    sections = []
    for index, pairs in _most_errors_first(analysis)[:limit]:
        tokens = x[index]
        kinds = ", ".join(html.escape(kind) for kind in _kinds(pairs))
        gold = [p.gold for p in pairs if p.gold is not None]
        predicted = [p.predicted for p in pairs if p.predicted is not None]
        sections.append(
            f"<section><h2>Sentence {index} &middot; {kinds}</h2>"
            f"<p><b>gold</b> {_marked(tokens, gold)}</p>"
            f"<p><b>predicted</b> {_marked(tokens, predicted)}</p></section>"
        )
    errors = ", ".join(f"{html.escape(k)} {n}" for k, n in analysis.errors.items())
    title = "Entity errors" if epoch is None else f"Entity errors at epoch {epoch}"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{errors}. The {len(sections)} sentences "
        f"with the most errors (of {len(analysis.sentence_errors)} with any).</p>"
        + "".join(sections)
        + "</body></html>\n"
    )


_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
    "mark{padding:0 .2em;border-radius:.2em;background:#ffe08a}"
    "mark small{color:#555;margin-left:.3em}section{border-top:1px solid #ddd}"
)


def _marked(tokens: Sequence[str], spans: Sequence[Span]) -> str:
    starts = {span.start: span for span in spans}
    out, index = [], 0
    while index < len(tokens):
        span = starts.get(index)
        if span is None:
            out.append(html.escape(tokens[index]))
            index += 1
            continue
        words = html.escape(" ".join(tokens[span.start : span.end]))
        out.append(f"<mark>{words}<small>{html.escape(span.type)}</small></mark>")
        index = span.end
    return " ".join(out)


def _spans_text(tokens: Sequence[str], spans: Sequence[Span]) -> str:
    ordered = sorted(spans, key=lambda span: span.start)
    return "; ".join(f"{s.type}: {' '.join(tokens[s.start : s.end])}" for s in ordered)


def _pair_types(analysis: ErrorAnalysis) -> Counter[tuple[str, str]]:
    """``(gold type, predicted type)`` of every pair, ``(none)`` for a missing side.

    Correct pairs are not listed one by one in the analysis; they are the
    strict scheme's correct count per type.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for entity_type, by_scheme in analysis.schemes_per_type.items():
        correct = by_scheme["strict"].correct
        if correct:
            counts[(entity_type, entity_type)] += correct
    for _, pairs in analysis.sentence_errors:
        for pair in pairs:
            if pair.kind != "correct":
                counts[(_type(pair.gold), _type(pair.predicted))] += 1
    return counts


def _kinds(pairs: Sequence[Pair]) -> list[str]:
    return [pair.kind for pair in pairs if pair.kind != "correct"]


def _most_errors_first(analysis: ErrorAnalysis) -> list[tuple[int, list[Pair]]]:
    return sorted(analysis.sentence_errors, key=lambda item: (-len(_kinds(item[1])), item[0]))


def _type(span: Span | None) -> str:
    return span.type if span is not None else NONE
