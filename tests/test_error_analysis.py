"""SemEval-2013 counts, error kinds, length and seen/unseen scores, computed by hand."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kashgari_mlflow._entities import Span, extract_spans
from kashgari_mlflow._error_analysis import (
    SEMEVAL_SCHEMES,
    SchemeCounts,
    analysis_metrics,
    analyze,
    pair_spans,
    surface_forms,
)
from kashgari_mlflow._metrics import entity_report
from tests.conftest import SHARED_WNUT17

# One sentence per kind of pair; the comment says what each is.
GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],  # PER right; LOC predicted as ORG (type)
    ["B-LOC", "I-LOC", "I-LOC"],  # cut short by a token (boundary)
    ["B-LOC", "I-LOC"],  # a PER over the last token (boundary and type)
    ["B-PER"],  # missed
    ["O"],  # an ORG made up (spurious)
    ["B-LOC", "I-LOC", "I-LOC"],  # split in two: the larger part pairs, the other is spurious
]
PRED = [
    ["B-PER", "I-PER", "O", "B-ORG"],
    ["B-LOC", "I-LOC", "O"],
    ["O", "B-PER"],
    ["O"],
    ["B-ORG"],
    ["B-LOC", "B-LOC", "I-LOC"],
]


def test_each_scheme_counts_every_pair_as_semeval_defines_it():
    schemes = analyze(GOLD, PRED).schemes
    assert schemes["strict"] == SchemeCounts(correct=1, incorrect=4, missed=1, spurious=2)
    assert schemes["exact"] == SchemeCounts(correct=2, incorrect=3, missed=1, spurious=2)
    assert schemes["partial"] == SchemeCounts(correct=2, partial=3, missed=1, spurious=2)
    assert schemes["type"] == SchemeCounts(correct=3, incorrect=2, missed=1, spurious=2)


def test_partial_outcomes_earn_half_a_hit():
    partial = analyze(GOLD, PRED).schemes["partial"]
    assert partial.possible == 6 and partial.actual == 7
    assert partial.precision == pytest.approx(3.5 / 7)
    assert partial.recall == pytest.approx(3.5 / 6)
    assert partial.f1 == pytest.approx(2 * 0.5 * (3.5 / 6) / (0.5 + 3.5 / 6))


def test_strict_scores_equal_the_entity_report():
    strict = analyze(GOLD, PRED).schemes["strict"]
    micro = entity_report(GOLD, PRED).micro
    assert (strict.precision, strict.recall, strict.f1) == pytest.approx(
        (micro.precision, micro.recall, micro.f1)
    )
    assert (strict.precision, strict.recall) == pytest.approx((1 / 7, 1 / 6))


def test_errors_are_broken_down_by_kind_and_gold_type():
    analysis = analyze(GOLD, PRED)
    assert analysis.errors == {
        "boundary": 2, "type": 1, "boundary_and_type": 1, "missed": 1, "spurious": 2,
    }  # fmt: skip
    assert analysis.errors_per_type["LOC"] == {
        "boundary": 2, "type": 1, "boundary_and_type": 1, "missed": 0, "spurious": 1,
    }  # fmt: skip
    assert analysis.errors_per_type["PER"]["missed"] == 1
    assert analysis.errors_per_type["ORG"]["spurious"] == 1
    assert analysis.schemes_per_type["PER"]["strict"] == SchemeCounts(correct=1, missed=1)
    assert [index for index, _ in analysis.sentence_errors] == [0, 1, 2, 3, 4, 5]
    assert [pair.kind for pair in analysis.sentence_errors[0][1]] == ["correct", "type"]


def test_a_prediction_splitting_one_entity_pairs_its_larger_part():
    pairs = pair_spans([Span("LOC", 0, 3)], [Span("LOC", 0, 1), Span("LOC", 1, 3)])
    assert [(p.gold, p.predicted, p.kind) for p in pairs] == [
        (Span("LOC", 0, 3), Span("LOC", 1, 3), "boundary"),
        (None, Span("LOC", 0, 1), "spurious"),
    ]


def test_identical_spans_pair_before_overlapping_ones():
    gold = [Span("PER", 0, 2), Span("LOC", 2, 3)]
    pred = [Span("PER", 0, 3), Span("LOC", 2, 3)]
    kinds = {(p.gold, p.predicted): p.kind for p in pair_spans(gold, pred)}
    assert kinds[(Span("LOC", 2, 3), Span("LOC", 2, 3))] == "correct"
    assert kinds[(Span("PER", 0, 2), Span("PER", 0, 3))] == "boundary"


def test_scores_by_entity_length():
    by_length = analyze(GOLD, PRED).by_length
    # Length 2: gold PER (right) and LOC; predicted PER, LOC[0:2], LOC[1:3].
    assert (by_length["2"].precision, by_length["2"].recall) == pytest.approx((1 / 3, 1 / 2))
    assert by_length["2"].f1 == pytest.approx(0.4)
    assert by_length["2"].support == 2
    assert (by_length["1"].support, by_length["1"].f1) == (2, 0.0)
    assert by_length["3"].support == 2 and by_length["4+"].support == 0


def test_seen_and_unseen_entities_by_their_words_in_the_training_data():
    forms = surface_forms(
        [["JOHN", "SMITH", "said"], ["Berlin"]], [["B-PER", "I-PER", "O"], ["B-LOC"]]
    )
    assert forms == {"john smith", "berlin"}
    x = [["John", "Smith", "visited", "Paris"], ["Berlin", "wall"]]
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC", "B-PER"]]
    analysis = analyze(gold, pred, x=x, seen_forms=forms)
    assert analysis.seen is not None and analysis.unseen is not None
    assert (analysis.seen.precision, analysis.seen.recall, analysis.seen.support) == (1.0, 1.0, 2)
    # Unseen: gold "Paris" missed, predicted "wall" spurious.
    assert (analysis.unseen.precision, analysis.unseen.recall, analysis.unseen.support) == (0, 0, 1)
    assert analyze(gold, pred).seen is None


def test_metric_names_cover_every_count_and_score():
    x = [["w"] * len(tags) for tags in GOLD]
    metrics = analysis_metrics(analyze(GOLD, PRED, x=x, seen_forms=set()))
    assert metrics["val_strict_correct"] == 1 and metrics["val_partial_partial"] == 3
    assert metrics["val_strict_f1"] == pytest.approx(2 / 13)
    assert metrics["val_errors_boundary"] == 2 and metrics["val_errors_spurious/LOC"] == 1
    assert metrics["val_type_incorrect/LOC"] == 2
    assert metrics["val_entity_f1_length_2"] == pytest.approx(0.4)
    assert "val_entity_f1_length_4plus" in metrics
    assert metrics["val_unseen_entity_recall"] == pytest.approx(1 / 6)
    assert all(isinstance(value, int | float) for value in metrics.values())


def test_mismatched_lengths_say_which_sentence():
    with pytest.raises(ValueError, match="Sentence 1 has 2 gold tags, 1 predicted tags"):
        analyze([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="y_true has 1 sentences, y_pred 2"):
        analyze([["O"]], [["O"], ["O"]])


TAGS = st.lists(
    st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]), max_size=8),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_scheme_accounts_for_every_gold_and_predicted_entity(data):
    gold = data.draw(TAGS)
    pred = [data.draw(st.lists(st.sampled_from(["O", "B-PER", "I-LOC", "B-ORG"]),
                               min_size=len(s), max_size=len(s))) for s in gold]  # fmt: skip
    analysis = analyze(gold, pred)
    gold_count = sum(len(extract_spans(tags)) for tags in gold)
    pred_count = sum(len(extract_spans(tags)) for tags in pred)
    for name in SEMEVAL_SCHEMES:
        counts = analysis.schemes[name]
        assert counts.possible == gold_count, name
        assert counts.actual == pred_count, name
    assert analysis.schemes["strict"].f1 == pytest.approx(entity_report(gold, pred).micro.f1)
    listed = sum(p.kind != "correct" for _, pairs in analysis.sentence_errors for p in pairs)
    assert sum(analysis.errors.values()) == listed


def _corrupt(tags: list[str], index: int) -> list[str]:
    """Every kind of error, in turn: drop an entity, retype it, shorten it, add one."""
    out = list(tags)
    spans = extract_spans(tags)
    if spans:
        span = spans[0]
        kind = index % 4
        if kind == 0:
            out[span.start : span.end] = ["O"] * (span.end - span.start)
        elif kind == 1:
            new_type = "person" if span.type != "person" else "location"
            out[span.start : span.end] = [f"{t[:2]}{new_type}" for t in tags[span.start : span.end]]
        elif kind == 2 and span.end - span.start > 1:
            out[span.end - 1] = "O"
    elif index % 3 == 0 and out:
        out[-1] = "B-group"
    return out


@pytest.mark.skipif(not SHARED_WNUT17.is_dir(), reason="../shared/data/wnut17 is not present")
def test_on_wnut17_dev_the_counts_add_up_and_strict_equals_entity_f1():
    from kashgari_mlflow import read_conll

    train_x, train_y = read_conll(SHARED_WNUT17 / "train.conll")
    x, gold = read_conll(SHARED_WNUT17 / "dev.conll")
    pred = [_corrupt(tags, index) for index, tags in enumerate(gold)]
    analysis = analyze(gold, pred, x=x, seen_forms=surface_forms(train_x, train_y))
    report = entity_report(gold, pred)
    gold_mentions = sum(len(extract_spans(tags)) for tags in gold)
    predicted_mentions = sum(len(extract_spans(tags)) for tags in pred)
    for name in SEMEVAL_SCHEMES:
        counts = analysis.schemes[name]
        assert counts.correct + counts.incorrect + counts.partial + counts.missed == gold_mentions
        assert counts.correct + counts.incorrect + counts.partial + counts.spurious == (
            predicted_mentions
        )
    strict = analysis.schemes["strict"]
    assert (strict.precision, strict.recall, strict.f1) == pytest.approx(
        (report.micro.precision, report.micro.recall, report.micro.f1)
    )
    assert all(analysis.errors[kind] > 0 for kind in ("missed", "type", "boundary", "spurious"))
    assert analysis.seen is not None and analysis.unseen is not None
    assert analysis.seen.support + analysis.unseen.support == gold_mentions
    assert sum(score.support for score in analysis.by_length.values()) == gold_mentions
