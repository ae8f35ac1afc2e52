"""Step offsets and evaluation scheduling of the callback's collaborators, with fakes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kashgari_mlflow._metrics import EntityReport, entity_report
from kashgari_mlflow._tracking._evaluator import Evaluator, evaluation_due
from kashgari_mlflow._tracking._steps import StepCounter, first_free_step


class _History:
    """A fake MlflowClient whose run already has ``loss`` at the given steps."""

    def __init__(self, steps: list[int], fail: bool = False) -> None:
        self.steps, self.fail = steps, fail

    def get_metric_history(self, run_id: str, key: str) -> list[Any]:
        if self.fail:
            raise ConnectionError("server down")
        assert key == "loss"
        return [SimpleNamespace(step=step) for step in self.steps]


def test_a_fresh_run_starts_at_step_0() -> None:
    steps = StepCounter(first_free_step(_History([]), "run"))
    steps.start_epoch(0)
    assert [steps.epoch_step(epoch) for epoch in range(3)] == [0, 1, 2]


def test_a_second_fit_in_the_same_run_continues_after_the_last_logged_epoch() -> None:
    steps = StepCounter(first_free_step(_History([0, 1, 2]), "run"))
    steps.start_epoch(0)
    assert [steps.epoch_step(epoch) for epoch in range(2)] == [3, 4]


def test_initial_epoch_that_already_continues_the_count_is_not_shifted_again() -> None:
    steps = StepCounter(first_free_step(_History([0, 1, 2]), "run"))
    steps.start_epoch(3)  # fit(..., initial_epoch=3)
    assert [steps.epoch_step(epoch) for epoch in (3, 4)] == [3, 4]


def test_initial_epoch_short_of_the_logged_steps_closes_the_gap() -> None:
    steps = StepCounter(first_free_step(_History([0, 1, 2, 3, 4]), "run"))
    steps.start_epoch(2)
    assert steps.epoch_step(2) == 5


def test_the_offset_is_fixed_at_the_first_epoch_of_the_fit() -> None:
    steps = StepCounter(2)
    steps.start_epoch(0)
    steps.start_epoch(1)  # every on_epoch_begin calls it; only the first counts
    assert steps.offset == 2 and steps.epoch_step(1) == 3


def test_a_failed_history_lookup_counts_from_0() -> None:
    assert first_free_step(_History([], fail=True), "run") == 0


def test_batch_metrics_are_due_every_n_global_batches() -> None:
    steps = StepCounter()
    due = [steps.count_batch(3) for _ in range(7)]
    assert due == [None, None, 3, None, None, 6, None]
    off = StepCounter()
    assert [off.count_batch(None) for _ in range(3)] == [None, None, None]


@pytest.mark.parametrize(
    ("every_n", "epochs", "expected"),
    [
        (1, 4, [0, 1, 2, 3]),
        (2, 5, [1, 3, 4]),  # every 2nd, and the last epoch always
        (3, 3, [2]),
        (0, 4, []),  # 0 turns evaluation off, the last epoch too
        (2, None, [1, 3]),  # Keras did not say how many epochs
    ],
)
def test_evaluation_schedule(every_n: int, epochs: int | None, expected: list[int]) -> None:
    assert [e for e in range(epochs or 4) if evaluation_due(e, every_n, epochs)] == expected


class _CountingEvaluator(Evaluator):
    def __init__(self, data: Any, every_n: int, task: str = "labeling") -> None:
        super().__init__(object(), task, data, every_n=every_n)
        self.calls = 0

    def evaluate(self) -> EntityReport:
        self.calls += 1
        return entity_report([["B-PER", "O"]], [["B-PER", "O"]])


def test_evaluator_scores_only_due_epochs_and_remembers_the_report_step() -> None:
    evaluator = _CountingEvaluator(([["a"]], [["O"]]), every_n=2)
    metrics = [evaluator.metrics(epoch, step=10 + epoch, epochs=3) for epoch in range(3)]
    assert [bool(m) for m in metrics] == [False, True, True]
    assert evaluator.calls == 2
    assert "val_entity_f1" in metrics[1] and "val_entity_macro_f1" in metrics[1]
    assert evaluator.report_of(12) is evaluator.last_report
    assert evaluator.report_of(11) is None


def test_evaluator_without_data_or_with_every_n_0_never_scores() -> None:
    for evaluator in (_CountingEvaluator(None, 1), _CountingEvaluator(([["a"]], [["O"]]), 0)):
        assert not evaluator.enabled
        assert evaluator.metrics(0, 0, 1) == {}
        assert evaluator.calls == 0


def test_classification_scores_are_named_val_class() -> None:
    evaluator = _CountingEvaluator((["a b"], ["x"]), 1, task="classification")
    assert "val_class_f1" in evaluator.metrics(0, 0, 1)


class _FixedTagger:
    def __init__(self, answer: list[list[str]]) -> None:
        self.answer = answer

    def predict_tags(self, x: Any, batch_size: int = 64) -> list[list[str]]:
        return self.answer


def test_labeling_scores_come_with_the_error_analysis_of_the_same_predictions() -> None:
    x = [["John", "lives", "in", "Paris"], ["Hi"]]
    y = [["B-PER", "O", "O", "B-LOC"], ["O"]]
    training = ([["PARIS", "is", "big"]], [["B-LOC", "O", "O"]])
    evaluator = Evaluator(object(), "labeling", (x, y), train_data=training)
    evaluator._tagger = _FixedTagger([["B-PER", "O", "O", "O"], ["O"]])  # type: ignore[assignment]
    metrics = evaluator.metrics(0, step=0, epochs=1)
    assert metrics["val_strict_f1"] == pytest.approx(metrics["val_entity_f1"])
    assert (metrics["val_strict_correct"], metrics["val_strict_missed"]) == (1, 1)
    assert metrics["val_errors_missed/LOC"] == 1
    assert metrics["val_errors_missed/PER"] == 0  # every type, every epoch: no gaps in charts
    assert metrics["val_seen_entity_recall"] == 0.0  # "Paris" is in the training data, missed
    assert metrics["val_unseen_entity_recall"] == 1.0  # "John" is not, found
    assert metrics["val_sentence_accuracy"] == 0.5
    assert evaluator.last_analysis is not None
    assert [index for index, _ in evaluator.last_analysis.sentence_errors] == [0]


def test_without_training_data_there_is_no_seen_unseen_split() -> None:
    evaluator = Evaluator(object(), "labeling", ([["John"]], [["B-PER"]]))
    evaluator._tagger = _FixedTagger([["B-PER"]])  # type: ignore[assignment]
    metrics = evaluator.metrics(0, step=0, epochs=1)
    assert metrics["val_strict_f1"] == 1.0
    assert not any(name.startswith(("val_seen", "val_unseen")) for name in metrics)


def test_training_data_that_are_not_token_lists_only_skip_the_seen_unseen_split() -> None:
    evaluator = Evaluator(object(), "labeling", ([["John"]], [["B-PER"]]), train_data=([1], [2]))
    evaluator._tagger = _FixedTagger([["B-PER"]])  # type: ignore[assignment]
    metrics = evaluator.metrics(0, step=0, epochs=1)
    assert metrics["val_strict_f1"] == 1.0
    assert "val_seen_entity_f1" not in metrics
