import random

import pytest

from kashgari_mlflow._metrics import entity_report


def test_perfect_and_empty_predictions():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert entity_report(gold, gold).micro.f1 == 1.0
    empty = entity_report(gold, [["O"] * 4])
    assert (empty.micro.precision, empty.micro.recall, empty.micro.f1) == (0.0, 0.0, 0.0)
    assert empty.micro.support == 2


def test_boundary_error_is_a_miss_and_a_false_positive():
    report = entity_report([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])
    assert report.per_type["PER"].precision == 0.0
    assert report.per_type["PER"].recall == 0.0


def test_micro_macro_weighted_differ_as_defined():
    gold = [["B-PER", "O", "B-LOC", "O", "B-LOC", "O", "B-LOC"]]
    pred = [["B-PER", "O", "B-LOC", "O", "O", "O", "O"]]
    report = entity_report(gold, pred)
    assert report.per_type["PER"].f1 == 1.0
    assert report.per_type["LOC"].recall == pytest.approx(1 / 3)
    assert report.micro.recall == pytest.approx(2 / 4)
    assert report.macro.recall == pytest.approx((1 + 1 / 3) / 2)
    assert report.weighted.recall == pytest.approx((1 * 1 + 3 * (1 / 3)) / 4)


def test_matches_kashgari_seqeval_scores_on_random_tags():
    from kashgari.metrics.sequence_labeling import f1_score, sequence_labeling_report

    rng = random.Random(3)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(1, 15))] for _ in range(300)]
    pred = [[t if rng.random() < 0.7 else rng.choice(tags) for t in seq] for seq in gold]
    ours = entity_report(gold, pred)
    theirs = sequence_labeling_report(gold, pred, verbose=0)["detail"]
    assert set(ours.per_type) == set(theirs)
    for entity_type, score in ours.per_type.items():
        assert score.precision == pytest.approx(theirs[entity_type]["precision"], abs=1e-12)
        assert score.recall == pytest.approx(theirs[entity_type]["recall"], abs=1e-12)
        assert score.support == theirs[entity_type]["support"]
    assert ours.micro.f1 == pytest.approx(f1_score(gold, pred), abs=1e-12)


def test_report_text_and_dict():
    report = entity_report([["B-PER", "O"]], [["B-PER", "O"]])
    assert "micro avg" in report.to_text()
    assert report.to_dict()["PER"]["f1"] == 1.0


def test_misaligned_input_is_refused_with_the_sentence_index():
    with pytest.raises(ValueError, match="Sentence 1 has 2 gold tags but 1 predicted"):
        entity_report([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="y_true has 1 sentences but y_pred has 2"):
        entity_report([["O"]], [["O"], ["O"]])


def test_sentence_accuracy_counts_sentences_without_a_single_wrong_tag():
    from kashgari_mlflow._evaluation import report_metrics

    gold = [["B-PER", "O"], ["O", "O"], ["B-LOC", "I-LOC"], ["O"]]
    pred = [["B-PER", "O"], ["O", "B-PER"], ["B-LOC", "O"], ["O"]]
    report = entity_report(gold, pred)
    assert report.sentence_accuracy == 0.5
    assert report_metrics(report)["val_sentence_accuracy"] == 0.5
    assert entity_report([], []).sentence_accuracy == 0.0
