"""Turn a sequence of BIO/IOBES tags into entity spans.

Three schemes are supported:

* ``"default"``: the lenient chunking of conlleval and seqeval's default mode.
  An ``I-X`` after ``O`` (or after another type) starts a new entity, so a
  model that never learned to emit ``B-`` still gets credit for its spans.
  This is what Kashgari's ``predict_entities`` does.
* ``"IOB2"``: strict. An entity is ``B-X`` followed by ``I-X`` tags; an ``I-X``
  that does not continue a ``B-X``/``I-X`` of the same type is not an entity.
* ``"IOBES"``: strict. ``S-X`` alone, or ``B-X (I-X)* E-X``; anything else is
  not an entity.

Kashgari's internal labels (``[PAD]``, ``[UNK]``, ``[CLS]``, ...) count as ``O``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Scheme = Literal["default", "IOB2", "IOBES"]
SCHEMES: tuple[str, ...] = ("default", "IOB2", "IOBES")

OUTSIDE = "O"
_PREFIXES = frozenset("BIESLU")


@dataclass(frozen=True)
class Span:
    """An entity found in a tag sequence.

    Attributes:
        type: Entity type, e.g. ``"PER"`` for the tags ``B-PER I-PER``.
        start: Index of the first token.
        end: Index one past the last token (Python slice convention).
    """

    type: str
    start: int
    end: int


def is_internal_label(tag: str) -> bool:
    """Whether ``tag`` is a bookkeeping label such as ``[PAD]`` rather than a real tag."""
    return len(tag) >= 2 and tag.startswith("[") and tag.endswith("]")


@lru_cache(maxsize=4096)  # a tag set is small, and every token's tag is split
def split_tag(tag: str) -> tuple[str, str]:
    """Split a tag into ``(prefix, type)``.

    ``"B-PER"`` gives ``("B", "PER")``, ``"O"`` and internal labels give
    ``("O", "")``. A tag with no recognised prefix (IO scheme, ``"PER"``) is
    read as ``("I", "PER")``; ``L-``/``U-`` (BILOU) are read as ``E-``/``S-``.
    """
    if not tag or tag == OUTSIDE or is_internal_label(tag):
        return OUTSIDE, ""
    for separator in ("-", "_"):
        prefix, sep, entity_type = tag.partition(separator)
        if sep and prefix in _PREFIXES and entity_type:
            return {"L": "E", "U": "S"}.get(prefix, prefix), entity_type
    return "I", tag


def extract_spans(tags: Sequence[str], scheme: Scheme = "default") -> list[Span]:
    """Find the entities in one tag sequence.

    Args:
        tags: One tag per token.
        scheme: ``"default"`` (lenient), ``"IOB2"`` or ``"IOBES"`` (strict).

    Returns:
        The spans in order of their start token.

    Raises:
        ValueError: If ``scheme`` is not one of :data:`SCHEMES`.

    Example:
        >>> extract_spans(["B-PER", "I-PER", "O", "B-LOC"])
        [Span(type='PER', start=0, end=2), Span(type='LOC', start=3, end=4)]
    """
    if scheme == "default":
        return _lenient_spans(tags)
    if scheme == "IOB2":
        return _strict_iob2_spans(tags)
    if scheme == "IOBES":
        return _strict_iobes_spans(tags)
    raise ValueError(f"Unknown tagging scheme {scheme!r}: use one of {', '.join(SCHEMES)}.")


def _lenient_spans(tags: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    start: int | None = None
    current = ""
    previous_prefix = OUTSIDE
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        ends = start is not None and (
            previous_prefix in ("E", "S") or prefix in (OUTSIDE, "B", "S") or entity_type != current
        )
        if ends:
            assert start is not None
            spans.append(Span(current, start, index))
            start = None
        if prefix != OUTSIDE and start is None:
            start, current = index, entity_type
        previous_prefix = prefix
    if start is not None:
        spans.append(Span(current, start, len(tags)))
    return spans


def _strict_iob2_spans(tags: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    start: int | None = None
    current = ""
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        if prefix == "I" and start is not None and entity_type == current:
            continue
        if start is not None:
            spans.append(Span(current, start, index))
            start = None
        if prefix == "B":
            start, current = index, entity_type
    if start is not None:
        spans.append(Span(current, start, len(tags)))
    return spans


def _strict_iobes_spans(tags: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    start: int | None = None
    current = ""
    for index, tag in enumerate(tags):
        prefix, entity_type = split_tag(tag)
        continues = start is not None and entity_type == current
        if prefix == "I" and continues:
            continue
        if prefix == "E" and continues:
            assert start is not None
            spans.append(Span(current, start, index + 1))
            start = None
            continue
        start = None  # an unfinished B-... entity is not an entity in strict IOBES
        if prefix == "S":
            spans.append(Span(entity_type, index, index + 1))
        elif prefix == "B":
            start, current = index, entity_type
    return spans
