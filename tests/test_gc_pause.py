"""Predict calls run without the cyclic garbage collector, and give it back as they found it."""

import gc
import threading

import numpy as np
import pytest

from kashgari_mlflow._classifier import KashgariClassifierPyfunc
from kashgari_mlflow._pyfunc import KashgariNerPyfunc
from kashgari_mlflow._tokenizers import whitespace_tokenize


class RecordingTagger:
    """Tags every token O and notes whether the collector could run meanwhile."""

    def __init__(self, fail=False):
        self.collector_on = []
        self.fail = fail

    def predict_tags(self, sentences, batch_size=64):
        self.collector_on.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("the network failed")
        return [["O"] * len(sentence) for sentence in sentences]


class RecordingClassifier:
    labels = ("greeting", "other")
    multi_label = False

    def __init__(self):
        self.collector_on = []

    def predict_probabilities(self, sentences, batch_size=64):
        self.collector_on.append(gc.isenabled())
        return np.array([[0.9, 0.1] for _ in sentences], dtype=np.float32)


@pytest.fixture
def collector_on():
    assert gc.isenabled()
    yield
    gc.enable()


def pyfuncs():
    tagger, classifier = RecordingTagger(), RecordingClassifier()
    return [
        (KashgariNerPyfunc(tagger, whitespace_tokenize, "whitespace", "default"), tagger),
        (KashgariClassifierPyfunc(classifier, whitespace_tokenize, "whitespace"), classifier),
    ]


def test_the_collector_is_off_during_predict_and_on_after(collector_on):
    for pyfunc, inner in pyfuncs():
        assert pyfunc.predict(["Ann met Bob", "hello"])
        assert inner.collector_on == [False]
        assert gc.isenabled()


def test_a_failed_predict_turns_the_collector_back_on(collector_on):
    tagger = RecordingTagger(fail=True)
    pyfunc = KashgariNerPyfunc(tagger, whitespace_tokenize, "whitespace", "default")
    with pytest.raises(RuntimeError, match="the network failed"):
        pyfunc.predict(["Ann met Bob"])
    assert tagger.collector_on == [False]
    assert gc.isenabled()


def test_a_collector_the_application_turned_off_stays_off(collector_on):
    gc.disable()
    for pyfunc, _ in pyfuncs():
        pyfunc.predict(["Ann met Bob"])
        assert not gc.isenabled()


def test_overlapping_predicts_in_threads_leave_the_collector_on(collector_on):
    entered, release = threading.Barrier(2), threading.Event()

    class SlowTagger(RecordingTagger):
        def predict_tags(self, sentences, batch_size=64):
            entered.wait(timeout=10)
            release.wait(timeout=10)
            return super().predict_tags(sentences, batch_size)

    pyfunc = KashgariNerPyfunc(SlowTagger(), whitespace_tokenize, "whitespace", "default")
    threads = [threading.Thread(target=pyfunc.predict, args=(["Ann"],)) for _ in range(2)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)
    assert gc.isenabled()


def test_the_callbacks_evaluation_runs_without_the_collector(collector_on, monkeypatch):
    from kashgari_mlflow._tracking import _evaluator

    tagger = RecordingTagger()
    monkeypatch.setattr(_evaluator.Tagger, "from_kashgari", lambda kash_model: tagger)
    evaluator = _evaluator.Evaluator(object(), "labeling", ([["Ann", "met"]], [["B-PER", "O"]]))
    assert evaluator.metrics(0, 0, 1)["val_entity_f1"] == 0.0
    assert tagger.collector_on == [False]
    assert gc.isenabled()
