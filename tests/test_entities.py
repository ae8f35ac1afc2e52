import pytest

from kashgari_mlflow._entities import Span, extract_spans, split_tag


def spans(tags, scheme="default"):
    return [(s.type, s.start, s.end) for s in extract_spans(tags, scheme)]


def test_bio_spans_with_exclusive_end():
    assert spans(["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 6),
    ]


def test_lenient_mode_starts_entity_on_orphan_inside_tag():
    assert spans(["O", "I-PER", "I-PER", "O"]) == [("PER", 1, 3)]
    assert spans(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]


def test_strict_iob2_drops_orphan_inside_tags():
    assert spans(["O", "I-PER", "I-PER", "B-LOC", "I-LOC"], "IOB2") == [("LOC", 3, 5)]
    assert spans(["B-PER", "I-LOC"], "IOB2") == [("PER", 0, 1)]


def test_strict_iobes_needs_closed_entities():
    tags = ["S-PER", "B-LOC", "I-LOC", "E-LOC", "B-ORG", "I-ORG", "O", "E-PER"]
    assert spans(tags, "IOBES") == [("PER", 0, 1), ("LOC", 1, 4)]


def test_lenient_mode_reads_iobes_too():
    assert spans(["B-LOC", "E-LOC", "S-PER", "I-PER"]) == [
        ("LOC", 0, 2),
        ("PER", 2, 3),
        ("PER", 3, 4),
    ]


def test_internal_labels_are_outside():
    assert split_tag("[PAD]") == ("O", "")
    assert spans(["B-PER", "[PAD]", "I-PER"]) == [("PER", 0, 1), ("PER", 2, 3)]


def test_types_with_hyphens_survive():
    assert spans(["B-creative-work", "I-creative-work"]) == [("creative-work", 0, 2)]


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="Unknown tagging scheme 'BILOU'"):
        extract_spans(["O"], "BILOU")  # type: ignore[arg-type]


def test_span_is_a_value():
    assert Span("PER", 0, 1) == Span("PER", 0, 1)
