"""What kind of wrong: SemEval-2013 counts, an error breakdown, seen/unseen and length scores.

Entity F1 says how much is wrong. An NER practitioner deciding the next run
needs to know what kind: boundaries off by a token, the right span with the
wrong type, entities missed, entities made up, names never seen in training.

Every gold and predicted entity of a sentence is first *paired* one to one:
identical spans first, then the same boundaries with another type, then the
remaining overlapping spans, largest overlap first. A gold entity left alone
is missed; a predicted one left alone is spurious. With the pairs, each of the
four schemes of SemEval-2013 task 9.1 (as in Segura-Bedmar et al. and the
``nervaluate`` package) gives every pair an outcome:

============ ====================== ================== ================
scheme       same span and type     same span only     overlap only
============ ====================== ================== ================
``strict``   correct                incorrect          incorrect
``exact``    correct                correct            incorrect
``partial``  correct                correct            partial
``type``     correct                incorrect (type    correct if same
                                    differs)           type, else
                                                       incorrect
============ ====================== ================== ================

One-to-one pairing is where this differs from ``nervaluate``, which lets two
predictions claim the same gold entity: here ``correct + incorrect + partial
+ missed`` is always the number of gold entities and ``correct + incorrect +
partial + spurious`` the number of predicted ones, in every scheme. A second
prediction overlapping an already paired gold entity counts as spurious. The
strict scheme's precision, recall and F1 equal the entity scores of
:func:`kashgari_mlflow._metrics.entity_report`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kashgari_mlflow._entities import Scheme, Span, extract_spans

#: The four schemes of SemEval-2013 task 9.1.
SEMEVAL_SCHEMES = ("strict", "exact", "partial", "type")
#: What a pair is under one scheme.
OUTCOMES = ("correct", "incorrect", "partial", "missed", "spurious")
#: What kind of error a pair is, whatever the scheme (``correct`` is no error).
ERROR_KINDS = ("boundary", "type", "boundary_and_type", "missed", "spurious")
#: Entity lengths, in tokens, that get their own scores.
LENGTH_BUCKETS = ("1", "2", "3", "4+")


_SAME = {"correct": "correct", "missed": "missed", "spurious": "spurious"}
#: Scheme -> kind of pair -> outcome (the table in the module docstring).
_OUTCOME_OF = {
    "strict": {
        **_SAME,
        "type": "incorrect",
        "boundary": "incorrect",
        "boundary_and_type": "incorrect",
    },
    "exact": {
        **_SAME,
        "type": "correct",
        "boundary": "incorrect",
        "boundary_and_type": "incorrect",
    },
    "partial": {**_SAME, "type": "correct", "boundary": "partial", "boundary_and_type": "partial"},
    "type": {**_SAME, "type": "incorrect", "boundary": "correct", "boundary_and_type": "incorrect"},
}


@dataclass(frozen=True)
class Pair:
    """A gold entity and the predicted entity paired with it (either may be missing)."""

    gold: Span | None
    predicted: Span | None

    @property
    def kind(self) -> str:
        """``"correct"`` or one of :data:`ERROR_KINDS`."""
        if self.gold is None:
            return "spurious"
        if self.predicted is None:
            return "missed"
        same_bounds = _bounds(self.gold) == _bounds(self.predicted)
        same_type = self.gold.type == self.predicted.type
        if same_bounds:
            return "correct" if same_type else "type"
        return "boundary" if same_type else "boundary_and_type"

    def outcome(self, scheme: str) -> str:
        """This pair's outcome under one of :data:`SEMEVAL_SCHEMES`."""
        if scheme not in _OUTCOME_OF:
            raise ValueError(f"Unknown scheme {scheme!r}: use one of {', '.join(SEMEVAL_SCHEMES)}.")
        return _OUTCOME_OF[scheme][self.kind]

    @property
    def entity_type(self) -> str:
        """The type the pair counts under: the gold entity's, or the prediction's if spurious."""
        span = self.gold or self.predicted
        assert span is not None
        return span.type


@dataclass(frozen=True)
class SchemeCounts:
    """Outcome counts of one scheme, and the precision, recall and F1 they give.

    ``partial`` outcomes earn half a hit (SemEval-2013's partial scheme).
    """

    correct: int = 0
    incorrect: int = 0
    partial: int = 0
    missed: int = 0
    spurious: int = 0

    @property
    def possible(self) -> int:
        """Gold entities: ``correct + incorrect + partial + missed``."""
        return self.correct + self.incorrect + self.partial + self.missed

    @property
    def actual(self) -> int:
        """Predicted entities: ``correct + incorrect + partial + spurious``."""
        return self.correct + self.incorrect + self.partial + self.spurious

    @property
    def precision(self) -> float:
        return _ratio(self.correct + 0.5 * self.partial, self.actual)

    @property
    def recall(self) -> float:
        return _ratio(self.correct + 0.5 * self.partial, self.possible)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of exact matches within a subset of entities."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ErrorAnalysis:
    """Everything :func:`analyze` finds.

    Attributes:
        schemes: Counts of each of :data:`SEMEVAL_SCHEMES`, over all entities.
        schemes_per_type: Entity type -> scheme -> counts (a pair counts under
            its gold entity's type, a spurious prediction under its own).
        errors: Number of pairs of each of :data:`ERROR_KINDS`.
        errors_per_type: Entity type -> error kind -> number (zeros included).
        by_length: Exact-match scores of entities 1, 2, 3 and 4+ tokens long.
        seen: Exact-match scores of entities whose words occur as an entity in
            the training data (None without training data).
        unseen: The same for entities whose words do not.
        sentence_errors: Per sentence with an error: its index and all its pairs.
    """

    schemes: dict[str, SchemeCounts]
    schemes_per_type: dict[str, dict[str, SchemeCounts]]
    errors: dict[str, int]
    errors_per_type: dict[str, dict[str, int]]
    by_length: dict[str, Score]
    seen: Score | None = None
    unseen: Score | None = None
    sentence_errors: list[tuple[int, list[Pair]]] = field(default_factory=list)


def pair_spans(gold: Sequence[Span], predicted: Sequence[Span]) -> list[Pair]:
    """Pair one sentence's gold and predicted entities one to one (see the module docstring).

    Returns:
        The pairs in order of position: every gold and every predicted entity
        appears in exactly one pair.
    """
    free_gold = list(dict.fromkeys(gold))
    free_pred = list(dict.fromkeys(predicted))
    pairs: list[Pair] = []
    for matches in (_same_span, _same_bounds):
        for g in list(free_gold):
            p = next((p for p in free_pred if matches(g, p)), None)
            if p is not None:
                pairs.append(Pair(g, p))
                free_gold.remove(g)
                free_pred.remove(p)
    overlapping = sorted(
        ((_overlap(g, p), g, p) for g in free_gold for p in free_pred if _overlap(g, p) > 0),
        key=lambda item: (-item[0], item[1].start, item[2].start),
    )
    for _, g, p in overlapping:
        if g in free_gold and p in free_pred:
            pairs.append(Pair(g, p))
            free_gold.remove(g)
            free_pred.remove(p)
    pairs += [Pair(g, None) for g in free_gold]
    pairs += [Pair(None, p) for p in free_pred]
    return sorted(pairs, key=_position)


def surface_forms(
    x: Sequence[Sequence[str]], y: Sequence[Sequence[str]], scheme: Scheme = "default"
) -> frozenset[str]:
    """The words of every entity in ``(x, y)``, as :func:`surface_form` writes them."""
    return frozenset(
        surface_form(tokens, span)
        for tokens, tags in zip(x, y, strict=True)
        for span in extract_spans(tags, scheme)
    )


def surface_form(tokens: Sequence[str], span: Span) -> str:
    """An entity's words, case-folded and joined by single spaces."""
    return " ".join(tokens[span.start : span.end]).casefold()


def analyze(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    *,
    x: Sequence[Sequence[str]] | None = None,
    seen_forms: Iterable[str] | None = None,
    scheme: Scheme = "default",
) -> ErrorAnalysis:
    """Pair, count and split the entities of predicted tags against gold ones.

    Args:
        y_true: Gold tags, one sequence per sentence.
        y_pred: Predicted tags, aligned with ``y_true`` token for token.
        x: The sentences' tokens; needed for the seen/unseen split.
        seen_forms: Entity surface forms of the training data (:func:`surface_forms`);
            with ``x``, entities are split into seen and unseen.
        scheme: How tags form entities; see :func:`kashgari_mlflow._entities.extract_spans`.

    Raises:
        ValueError: If the lists, or any pair of sentences, differ in length.
    """
    _check_lengths(y_true, y_pred, x)
    gold = [extract_spans(tags, scheme) for tags in y_true]
    predicted = [extract_spans(tags, scheme) for tags in y_pred]
    return analyze_spans(gold, predicted, x=x, seen_forms=seen_forms)


def analyze_spans(
    gold: Sequence[Sequence[Span]],
    predicted: Sequence[Sequence[Span]],
    *,
    x: Sequence[Sequence[str]] | None = None,
    seen_forms: Iterable[str] | None = None,
) -> ErrorAnalysis:
    """:func:`analyze` of entities already found, one list of spans per sentence."""
    forms = frozenset(seen_forms) if seen_forms is not None and x is not None else None
    outcomes: dict[str, Counter[str]] = {s: Counter() for s in SEMEVAL_SCHEMES}
    typed: dict[str, dict[str, Counter[str]]] = {}
    errors: Counter[str] = Counter()
    errors_per_type: dict[str, Counter[str]] = {}
    subsets = _SubsetCounter()
    sentence_errors: list[tuple[int, list[Pair]]] = []
    for index, (gold_spans, pred_spans) in enumerate(zip(gold, predicted, strict=True)):
        pairs = pair_spans(gold_spans, pred_spans)
        wrong = False
        for pair in pairs:
            kind, entity_type = pair.kind, pair.entity_type
            per_type = typed.setdefault(entity_type, {s: Counter() for s in SEMEVAL_SCHEMES})
            for name in SEMEVAL_SCHEMES:
                outcome = _OUTCOME_OF[name][kind]
                outcomes[name][outcome] += 1
                per_type[name][outcome] += 1
            if kind != "correct":
                errors[kind] += 1
                errors_per_type.setdefault(entity_type, Counter())[kind] += 1
                wrong = True
            subsets.add(pair, kind, x[index] if x is not None else None, forms)
        if wrong:
            sentence_errors.append((index, pairs))
    return ErrorAnalysis(
        schemes={name: _counts(outcomes[name]) for name in SEMEVAL_SCHEMES},
        schemes_per_type={
            t: {name: _counts(counter) for name, counter in by_scheme.items()}
            for t, by_scheme in sorted(typed.items())
        },
        errors={kind: errors[kind] for kind in ERROR_KINDS},
        # Every type seen in a pair, errors or not: the same names every epoch.
        errors_per_type={
            t: {kind: errors_per_type.get(t, Counter())[kind] for kind in ERROR_KINDS}
            for t in sorted(typed)
        },
        by_length={bucket: subsets.score(("length", bucket)) for bucket in LENGTH_BUCKETS},
        seen=subsets.score(("seen", True)) if forms is not None else None,
        unseen=subsets.score(("seen", False)) if forms is not None else None,
        sentence_errors=sentence_errors,
    )


def analysis_metrics(analysis: ErrorAnalysis, prefix: str = "val") -> dict[str, float]:
    """Flatten an analysis into MLflow metric names (documented in docs/tracking.md).

    ``{prefix}_{scheme}_{outcome}`` and ``{prefix}_{scheme}_{precision,recall,f1}``
    for each scheme, the same with ``/<type>`` per entity type,
    ``{prefix}_errors_{kind}`` (and ``/<type>``), ``{prefix}_entity_f1_length_{n}``
    (``4plus`` for 4+), and ``{prefix}_{seen,unseen}_entity_{precision,recall,f1}``.
    """
    from kashgari_mlflow._keys import mlflow_key
    from kashgari_mlflow._redaction import Redactor

    redactor = Redactor()  # a type named after a secret: masked before characters are replaced
    metrics: dict[str, float] = {}

    def add_scheme(name: str, counts: SchemeCounts, suffix: str = "") -> None:
        for outcome in OUTCOMES:
            metrics[mlflow_key(f"{prefix}_{name}_{outcome}{suffix}")] = getattr(counts, outcome)
        for score in ("precision", "recall", "f1"):
            metrics[mlflow_key(f"{prefix}_{name}_{score}{suffix}")] = getattr(counts, score)

    for name, counts in analysis.schemes.items():
        add_scheme(name, counts)
    for entity_type, by_scheme in analysis.schemes_per_type.items():
        for name, counts in by_scheme.items():
            add_scheme(name, counts, f"/{redactor.key(entity_type)}")
    for kind, number in analysis.errors.items():
        metrics[f"{prefix}_errors_{kind}"] = number
    for entity_type, kinds in analysis.errors_per_type.items():
        for kind, number in kinds.items():
            metrics[mlflow_key(f"{prefix}_errors_{kind}/{redactor.key(entity_type)}")] = number
    for bucket, score in analysis.by_length.items():
        metrics[f"{prefix}_entity_f1_length_{bucket.replace('+', 'plus')}"] = score.f1
    for name, subset in (("seen", analysis.seen), ("unseen", analysis.unseen)):
        if subset is not None:
            metrics[f"{prefix}_{name}_entity_precision"] = subset.precision
            metrics[f"{prefix}_{name}_entity_recall"] = subset.recall
            metrics[f"{prefix}_{name}_entity_f1"] = subset.f1
    return metrics


class _SubsetCounter:
    """Exact-match counts within subsets of entities (by length, seen or unseen).

    A gold entity counts in the subsets of its own words and length, a
    prediction in those of its own: a hit is an identical span, so both fall
    in the same subsets.
    """

    def __init__(self) -> None:
        self.gold: Counter[tuple[str, object]] = Counter()
        self.predicted: Counter[tuple[str, object]] = Counter()
        self.hits: Counter[tuple[str, object]] = Counter()

    def add(
        self, pair: Pair, kind: str, tokens: Sequence[str] | None, forms: frozenset[str] | None
    ) -> None:
        for span, counter in ((pair.gold, self.gold), (pair.predicted, self.predicted)):
            if span is not None:
                counter.update(self._keys(span, tokens, forms))
        if kind == "correct":
            assert pair.gold is not None
            self.hits.update(self._keys(pair.gold, tokens, forms))

    @staticmethod
    def _keys(
        span: Span, tokens: Sequence[str] | None, forms: frozenset[str] | None
    ) -> list[tuple[str, object]]:
        length = span.end - span.start
        keys: list[tuple[str, object]] = [("length", str(length) if length < 4 else "4+")]
        if forms is not None and tokens is not None:
            keys.append(("seen", surface_form(tokens, span) in forms))
        return keys

    def score(self, key: tuple[str, object]) -> Score:
        hits, predicted, support = self.hits[key], self.predicted[key], self.gold[key]
        precision, recall = _ratio(hits, predicted), _ratio(hits, support)
        return Score(precision, recall, _ratio(2 * precision * recall, precision + recall), support)


def _check_lengths(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    x: Sequence[Sequence[str]] | None,
) -> None:
    if len(y_true) != len(y_pred) or (x is not None and len(x) != len(y_true)):
        raise ValueError(
            f"y_true has {len(y_true)} sentences, y_pred {len(y_pred)}"
            + (f" and x {len(x)}" if x is not None else "")
            + ": pass one of each per sentence."
        )
    for index, (true_tags, pred_tags) in enumerate(zip(y_true, y_pred, strict=True)):
        lengths = {len(true_tags), len(pred_tags)} | ({len(x[index])} if x is not None else set())
        if len(lengths) > 1:
            raise ValueError(
                f"Sentence {index} has {len(true_tags)} gold tags, {len(pred_tags)} predicted "
                "tags"
                + (f" and {len(x[index])} tokens" if x is not None else "")
                + ": they must match token for token."
            )


def _counts(counter: Counter[str]) -> SchemeCounts:
    return SchemeCounts(**{outcome: counter[outcome] for outcome in OUTCOMES})


def _bounds(span: Span) -> tuple[int, int]:
    return span.start, span.end


def _same_span(gold: Span, predicted: Span) -> bool:
    return gold == predicted


def _same_bounds(gold: Span, predicted: Span) -> bool:
    return _bounds(gold) == _bounds(predicted)


def _overlap(gold: Span, predicted: Span) -> int:
    return max(0, min(gold.end, predicted.end) - max(gold.start, predicted.start))


def _position(pair: Pair) -> tuple[int, int]:
    span = pair.gold or pair.predicted
    assert span is not None
    return span.start, 0 if pair.gold is not None else 1


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
