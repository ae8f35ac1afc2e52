"""Predict calls run without the cyclic garbage collector, and give it back as they found it."""

import gc
import threading

import numpy as np
import pytest

from kashgari_mlflow import _gc_pause
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


def test_a_call_over_more_sentences_runs_with_the_collector(collector_on, monkeypatch):
    monkeypatch.setattr(_gc_pause, "MAX_PAUSED_SENTENCES", 2)
    for pyfunc, inner in pyfuncs():
        pyfunc.predict(["one", "two"])
        pyfunc.predict(["one", "two", "three"])
        assert inner.collector_on == [False, True]


class GatedTagger(RecordingTagger):
    """Each call waits at its own gate, so a test decides in which order calls return."""

    def __init__(self):
        super().__init__()
        self.inside, self.gates = [], {}

    def predict_tags(self, sentences, batch_size=64):
        name = sentences[0][0]
        self.inside.append(name)
        assert self.gates[name].wait(timeout=10), f"{name} was never let out"
        return super().predict_tags(sentences, batch_size)


@pytest.mark.parametrize("first_out", ["first", "second"])
def test_overlapping_calls_give_the_collector_back_once_the_pausing_call_returns(
    collector_on, first_out
):
    tagger = GatedTagger()
    pyfunc = KashgariNerPyfunc(tagger, whitespace_tokenize, "whitespace", "default")
    tagger.gates = {"first": threading.Event(), "second": threading.Event()}
    threads = {
        name: threading.Thread(target=pyfunc.predict, args=([name],)) for name in tagger.gates
    }

    def wait_until(condition):
        for _ in range(1000):
            if condition():
                return
            threading.Event().wait(0.01)
        raise AssertionError("timed out")

    threads["first"].start()
    wait_until(lambda: tagger.inside == ["first"])
    threads["second"].start()
    wait_until(lambda: tagger.inside == ["first", "second"])
    assert not gc.isenabled()
    second_out = "second" if first_out == "first" else "first"
    tagger.gates[first_out].set()
    threads[first_out].join(timeout=10)
    # Switched back on only when the call that switched it off ("first") returns.
    assert gc.isenabled() == (first_out == "first")
    tagger.gates[second_out].set()
    threads[second_out].join(timeout=10)
    assert not any(thread.is_alive() for thread in threads.values())
    assert gc.isenabled()


def test_the_callbacks_evaluation_runs_without_the_collector(collector_on, monkeypatch):
    from kashgari_mlflow._tracking import _evaluator

    tagger = RecordingTagger()
    monkeypatch.setattr(_evaluator.Tagger, "from_kashgari", lambda kash_model: tagger)
    evaluator = _evaluator.Evaluator(object(), "labeling", ([["Ann", "met"]], [["B-PER", "O"]]))
    assert evaluator.metrics(0, 0, 1)["val_entity_f1"] == 0.0
    assert tagger.collector_on == [False]
    assert gc.isenabled()
