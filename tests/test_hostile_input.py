"""Hostile input: every value gets a correct answer or a clean 400, never a crash.

Run with ``uv run pytest -m "slow or not slow" tests/test_hostile_input.py -s``
to see the outcome table; the REST half is marked slow.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mlflow.exceptions import MlflowException

from tests._model_server import ModelServer

OUTCOMES: Counter[tuple[str, str]] = Counter()

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
HOSTILE = st.one_of(
    JSON_VALUES,
    st.text(),
    st.lists(st.text(), max_size=8),
    st.lists(st.lists(st.text(), max_size=8), max_size=5),
)

FIXED: dict[str, Any] = {
    "empty string": "",
    "empty list": [],
    "none": None,
    "number": 42,
    "nested lists": [[["John"]], [[1, [2, [3]]]]],
    "nested dicts": {"text": {"text": {"text": ["John"]}}},
    "dict without keys": {"a": {"b": [1, {"c": None}]}},
    "100k characters": "x" * 100_000,
    "10k tokens": " ".join(["John", "lives", "in", "New", "York", "."] * 1667)[:60_000],
    "control characters": "John\x00 lives\x1b in \u200bNew\r\nYork\t.",
    "only control characters": "\x00\x1b\u200b",
    "emoji zwj skin tones": "👩🏽‍💻 John 👨‍👩‍👧‍👦 lives in New York 👍🏿",
    "arabic hebrew rlm": "\u200fمحمد يعيش في القاهرة \u200fשלום ירושלים\u200f John",  # noqa: RUF001
    "cjk": "张三在北京工作。 東京 서울",
    "nbsp and ideographic space": "John\u00a0lives\u3000in New\u00a0York",
    "only spaces": "   ",
    "only unicode spaces": "\u00a0\u3000\u2003",
    "whitespace sentence in batch": ["John lives", "   ", ""],
    "empty token list": [[]],
    "nan": math.nan,
    "nan in list": ["John", math.nan],
    "inf token": [["John", math.inf]],
    "5000 sentences": ["John lives in New York", "Mary works at Google in Paris ."] * 2500,
    "tokens with spaces": [[" John", "New York ", "a\u200bb"]],
    "whitespace-only token": [["John", "\u3000"]],
    "dataframe-like records": [{"text": "John"}, {"tokens": ["Mary"]}],
    "bool": True,
    "text key with number": {"text": 3},
}


def check_predictions(predictions: Any) -> None:
    """One tag per token, non-empty tokens, entity offsets that point at the entity."""
    assert isinstance(predictions, list)
    for answer in predictions:
        text, tokens, tags = answer["text"], answer["tokens"], answer["tags"]
        assert isinstance(text, str)
        assert len(tags) == len(tokens)
        assert all(isinstance(token, str) and token for token in tokens)
        assert all(isinstance(tag, str) and tag and not tag.startswith("[") for tag in tags)
        for entity in answer["entities"]:
            assert 0 <= entity["char_start"] < entity["char_end"] <= len(text), entity
            assert text[entity["char_start"] : entity["char_end"]] == entity["text"], entity
            assert 0 <= entity["token_start"] < entity["token_end"] <= len(tokens), entity
            assert entity["type"] and not entity["type"].startswith("[")


@pytest.fixture(scope="module", autouse=True)
def outcome_table() -> Iterator[None]:
    yield
    if not OUTCOMES:
        return
    print("\n\nHostile input outcomes")
    print(f"{'where':<12}{'answered':>10}{'refused':>10}{'other':>8}")
    for where in ("in-process", "REST"):
        row = [OUTCOMES[(where, kind)] for kind in ("answered", "refused", "other")]
        if any(row):
            print(f"{where:<12}{row[0]:>10}{row[1]:>10}{row[2]:>8}")


@pytest.fixture(scope="module")  # hypothesis refuses function-scoped fixtures in @given tests
def model(saved_pyfunc: Any) -> Any:
    return saved_pyfunc


def predict_in_process(model: Any, value: Any) -> None:
    try:
        predictions = model.predict(value)
    except MlflowException as error:
        OUTCOMES[("in-process", "refused")] += 1
        assert error.error_code == "INVALID_PARAMETER_VALUE", error
        assert str(error.message).strip()
        return
    except BaseException:
        OUTCOMES[("in-process", "other")] += 1
        raise
    try:
        check_predictions(predictions)
    except BaseException:
        OUTCOMES[("in-process", "other")] += 1
        raise
    OUTCOMES[("in-process", "answered")] += 1


@pytest.mark.parametrize("name", list(FIXED))
def test_fixed_hostile_input_in_process(model, name):
    predict_in_process(model, FIXED[name])


@settings(max_examples=150, deadline=None)
@given(value=HOSTILE)
def test_arbitrary_input_in_process(model, value):
    predict_in_process(model, value)


@settings(max_examples=150, deadline=None)
@given(tokens=st.lists(st.text(min_size=1), min_size=1, max_size=12))
def test_arbitrary_token_lists_in_process(model, tokens):
    predict_in_process(model, [tokens])


@pytest.mark.parametrize("sentence", ["   ", "\u3000\u00a0", "\t\r\n"])
def test_sentence_without_tokens_gets_an_empty_answer(model, sentence):
    (answer,) = model.predict([sentence])
    assert answer == {"text": sentence, "tokens": [], "tags": [], "entities": []}


def test_emoji_and_rtl_marks_keep_offsets(model):
    text = FIXED["arabic hebrew rlm"]
    (answer,) = model.predict(text)
    assert answer["tokens"] == text.split()
    check_predictions([answer])


# ---------------------------------------------------------------- over REST


@pytest.fixture(scope="module")
def server(saved_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    running = ModelServer(str(saved_model_dir), tmp_path_factory.mktemp("hostile") / "serve.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def post_and_check(server: ModelServer, body: Any = None, raw: bytes | None = None) -> None:
    status, answer = server.post(body, raw=raw, timeout=300)
    up = server.is_up()
    try:
        assert up, server.tail()
        assert status in (200, 400), (status, answer, server.tail())
        if status == 200:
            check_predictions(answer["predictions"])
        else:
            assert isinstance(answer, dict) and str(answer["message"]).strip(), answer
    except BaseException:
        OUTCOMES[("REST", "other")] += 1
        raise
    OUTCOMES[("REST", "answered" if status == 200 else "refused")] += 1


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FIXED))
def test_fixed_hostile_input_over_rest(server, name):
    post_and_check(server, {"inputs": FIXED[name]})


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(value=HOSTILE)
def test_arbitrary_input_over_rest(server, value):
    post_and_check(server, {"inputs": value})


MALFORMED = {
    "truncated json": b'{"inputs": ["John lives',
    "truncated after key": b'{"inputs"',
    "empty body": b"",
    "binary garbage": bytes(range(256)) * 4,
    "invalid utf-8": b'{"inputs": ["\xff\xfe John"]}',
    "nesting 500 levels": b'{"inputs": ' + b"[" * 500 + b"]" * 500 + b"}",
    "duplicated keys": b'{"inputs": ["John"], "inputs": ["Mary lives in Paris"]}',
    "two input fields": b'{"inputs": ["John"], "instances": ["Mary"]}',
    "json scalar": b"42",
    "json string": b'"John lives in New York"',
    "json null": b"null",
    "bare NaN": b'{"inputs": NaN}',
    "lone surrogate": b'{"inputs": ["\\ud800 John"]}',
}


# Nesting deeper than Python's recursion limit makes json.loads raise RecursionError;
# the flavor's JSON hook turns it into a 400 (MLflow alone would answer 500).
DEEP = {
    "deep nesting 10k levels": b'{"inputs": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "deep object nesting 10k levels": b'{"inputs": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_001,
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "body",
    [pytest.param(raw, id=name) for name, raw in {**MALFORMED, **DEEP}.items()],
)
def test_malformed_bodies_over_rest(server, body):
    post_and_check(server, raw=body)


@pytest.mark.slow
def test_server_survives_deep_nesting(server):
    for raw in DEEP.values():
        status, answer = server.post(None, raw=raw, timeout=300)
        assert status == 400, answer
        assert "nested too deeply" in answer["message"]
        assert server.is_up(), server.tail()
    status, answer = server.post({"inputs": ["John lives in New York"]})
    assert status == 200, answer


@pytest.mark.slow
def test_zero_token_sentence_answers_the_same_over_rest(server, model):
    sentences = ["   ", "John lives in New York", "\u3000"]
    status, answer = server.post({"inputs": sentences})
    assert status == 200, answer
    assert answer["predictions"] == json.loads(json.dumps(model.predict(sentences)))
    assert answer["predictions"][0] == {"text": "   ", "tokens": [], "tags": [], "entities": []}
