"""Input parsing and output shaping, with a stand-in tagger (no TensorFlow)."""

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from kashgari_mlflow._pyfunc import KashgariNerPyfunc
from kashgari_mlflow._tokenizers import char_tokenize, whitespace_tokenize


class CapitalsTagger:
    """Tags capitalised tokens as PER, like a model would."""

    def predict_tags(self, sentences, batch_size=64):
        self.batch_size = batch_size
        return [["B-PER" if t[:1].isupper() else "O" for t in s] for s in sentences]


def model(tokenizer=whitespace_tokenize, name="whitespace"):
    return KashgariNerPyfunc(CapitalsTagger(), tokenizer, name, "default")


@pytest.mark.parametrize(
    "model_input",
    [
        "Ann met Bob",
        ["Ann met Bob"],
        [["Ann", "met", "Bob"]],
        pd.DataFrame({"text": ["Ann met Bob"]}),
        pd.DataFrame({"tokens": [["Ann", "met", "Bob"]]}),
    ],
)
def test_every_input_form_gives_the_same_answer(model_input):
    (answer,) = model().predict(model_input)
    assert answer["tokens"] == ["Ann", "met", "Bob"]
    assert answer["tags"] == ["B-PER", "O", "B-PER"]
    assert [(e["text"], e["char_start"], e["char_end"]) for e in answer["entities"]] == [
        ("Ann", 0, 3),
        ("Bob", 8, 11),
    ]


def test_ragged_token_lists():
    answers = model().predict([["Ann"], ["x", "y", "Zed", "w"]])
    assert [a["tags"] for a in answers] == [["B-PER"], ["O", "O", "B-PER", "O"]]


def test_output_param_selects_fields_and_batch_size_is_passed():
    m = model()
    (answer,) = m.predict(["Ann"], params={"output": "entities", "batch_size": 7})
    assert set(answer) == {"text", "entities"}
    assert m.tagger.batch_size == 7
    (answer,) = m.predict(["Ann"], params={"output": "tags"})
    assert set(answer) == {"text", "tokens", "tags"}


def test_character_tokenizer_offsets_into_original_text():
    text = "张三 在北京"
    (answer,) = model(char_tokenize, "char").predict(text)
    assert answer["tokens"] == ["张", "三", "在", "北", "京"]
    assert [char_tokenize(text)[i].start for i in range(5)] == [0, 1, 3, 4, 5]


def _nested(value, key, depth):
    """``value`` wrapped ``depth`` times in a dict under ``key`` (or a list if key is None)."""
    for _ in range(depth):
        value = [value] if key is None else {key: value}
    return value


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (None, "The input is null"),
        ([], "The input is empty"),
        ([None], "Input 0 is null"),
        ([["Ann", 3]], "Token 1 of input 0 is int"),
        ([["Ann", ""]], "Token 1 of input 0 is empty"),
        ([{"a": 1}], "Input 0 is dict"),
        (pd.DataFrame({"a": [1], "b": [2]}), "send a 'text' column"),
        (3.5, "Unsupported input of type float"),
        (pd.DataFrame([["Ann", "Bob"]], columns=["text", "text"]), "2 columns named 'text'"),
        (_nested({"text": ["Ann"]}, "text", 3000), "wraps dicts more than 2 deep"),
        ([[_nested(["Ann"], None, 3000)]], "Token 0 of input 0 is a list nested too deeply"),
    ],
)
def test_bad_input_gets_a_clear_invalid_parameter_error(bad, message):
    with pytest.raises(MlflowException, match=message) as caught:
        model().predict(bad)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("params", "message"),
    [({"output": "xml"}, "output must be one of"), ({"batch_size": 0}, "batch_size must be")],
)
def test_bad_params_are_refused(params, message):
    with pytest.raises(MlflowException, match=message):
        model().predict(["Ann"], params=params)


def test_request_without_content_type_gets_415_not_a_crash(monkeypatch):
    from mlflow.pyfunc import scoring_server

    from kashgari_mlflow._compat import answer_missing_content_type

    seen = []

    def invocations(data, content_type, model, input_schema):
        seen.append(data)
        return "ok"

    monkeypatch.setattr(scoring_server, "invocations", invocations)
    answer_missing_content_type()
    refused = scoring_server.invocations(b'{"inputs": ["Ann"]}', None, object(), None)
    assert (refused.status, refused.mimetype) == (415, "text/plain")
    assert "no Content-Type" in refused.response
    assert seen == []
    assert scoring_server.invocations(b"{}", "application/json", "model", None) == "ok"
    assert len(seen) == 1


def test_character_model_joins_token_lists_without_spaces():
    class HanTagger:
        def predict_tags(self, sentences, batch_size=64):
            tags = {"新": "B-ORG", "华": "I-ORG", "社": "I-ORG", "北": "B-LOC", "京": "I-LOC"}
            return [[tags.get(t, "O") for t in s] for s in sentences]

    pyfunc = KashgariNerPyfunc(HanTagger(), char_tokenize, "char", "default")
    (answer,) = pyfunc.predict([list("新华社北京电")])
    assert answer["text"] == "新华社北京电"
    found = [(e["text"], e["char_start"], e["char_end"]) for e in answer["entities"]]
    assert found == [("新华社", 0, 3), ("北京", 3, 5)]


class OneLabelClassifier:
    """Scores every sentence 'greeting' with 0.9 and records the batch size it got."""

    labels = ("greeting", "other")
    multi_label = True

    def predict_probabilities(self, sentences, batch_size=64):
        self.batch_size = batch_size
        return np.array([[0.9, 0.2] for _ in sentences], dtype=np.float32)


def both_pyfuncs():
    from kashgari_mlflow._classifier import KashgariClassifierPyfunc

    classifier = KashgariClassifierPyfunc(OneLabelClassifier(), whitespace_tokenize, "whitespace")
    return [(model(), "tagger"), (classifier, "classifier")]


@pytest.mark.parametrize(
    ("batch_size", "read_as"),
    [(8, 8), (np.int64(8), 8), (8.0, 8), ("8", 8), (None, 64), (4096, 4096)],
)
def test_both_pyfuncs_read_batch_size_alike(batch_size, read_as):
    for pyfunc, inner in both_pyfuncs():
        pyfunc.predict(["Ann"], params={"batch_size": batch_size})
        assert getattr(pyfunc, inner).batch_size == read_as


@pytest.mark.parametrize("batch_size", [0, 4097, 8.5, True, "eight", "8.5", [8]])
def test_both_pyfuncs_refuse_the_same_batch_sizes(batch_size):
    for pyfunc, _ in both_pyfuncs():
        with pytest.raises(MlflowException, match="batch_size must be an integer from 1 to 4096"):
            pyfunc.predict(["Ann"], params={"batch_size": batch_size})


def test_threshold_param_selects_multi_labels():
    _, (classifier, _) = both_pyfuncs()
    (answer,) = classifier.predict(["Ann"], params={"threshold": 0.1})
    assert answer["labels"] == ["greeting", "other"]
    (answer,) = classifier.predict(["Ann"])
    assert answer["labels"] == ["greeting"]
    with pytest.raises(MlflowException, match="threshold must be a number from 0 to 1"):
        classifier.predict(["Ann"], params={"threshold": 1.5})
