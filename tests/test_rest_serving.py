"""``mlflow models serve`` / ``mlflow models predict`` answer like in-process predict."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest

from tests._model_server import ModelServer

SENTENCES = ["John lives in New York", "Mary works at Google in Paris ."]
TOKENS = [["John", "Smith", "visited", "Berlin"], ["Mary"], ["Angela", "Merkel", "flew", "home"]]


@pytest.fixture(scope="module")
def served_model(trained_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kashgari_mlflow import save_model

    path = tmp_path_factory.mktemp("served") / "model"
    save_model(trained_model, str(path), input_example=SENTENCES)
    return path


@pytest.fixture(scope="module")
def server(served_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServer]:
    running = ModelServer(str(served_model), tmp_path_factory.mktemp("serve") / "serve.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def in_process(served_model: Path) -> Any:
    return mlflow.pyfunc.load_model(str(served_model))


def _roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))


REQUESTS = {
    "inputs sentences": ({"inputs": SENTENCES}, SENTENCES, None),
    "inputs one string": ({"inputs": SENTENCES[0]}, SENTENCES[0], None),
    "inputs ragged tokens": ({"inputs": TOKENS}, TOKENS, None),
    "instances sentences": ({"instances": SENTENCES}, SENTENCES, None),
    "dataframe_split text": (
        {"dataframe_split": {"columns": ["text"], "data": [[s] for s in SENTENCES]}},
        SENTENCES,
        None,
    ),
    "dataframe_records text": (
        {"dataframe_records": [{"text": s} for s in SENTENCES]},
        SENTENCES,
        None,
    ),
    "dataframe_records tokens": (
        {"dataframe_records": [{"tokens": t} for t in TOKENS]},
        TOKENS,
        None,
    ),
    "params output entities": (
        {"inputs": SENTENCES, "params": {"output": "entities", "batch_size": 1}},
        SENTENCES,
        {"output": "entities", "batch_size": 1},
    ),
    "params output tags": (
        {"inputs": TOKENS, "params": {"output": "tags"}},
        TOKENS,
        {"output": "tags"},
    ),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_input_form_answers_like_in_process(server, in_process, name):
    body, same_input, params = REQUESTS[name]
    status, answer = server.post(body)
    assert status == 200, answer
    assert answer["predictions"] == _roundtrip(in_process.predict(same_input, params=params))


def test_answers_carry_tokens_tags_and_entity_spans(server):
    status, answer = server.post({"inputs": ["John lives in New York"]})
    assert status == 200
    (prediction,) = answer["predictions"]
    assert prediction["tokens"] == ["John", "lives", "in", "New", "York"]
    assert len(prediction["tags"]) == 5
    for entity in prediction["entities"]:
        assert prediction["text"][entity["char_start"] : entity["char_end"]] == entity["text"]


BAD_REQUESTS = {
    "empty list": ({"inputs": []}, "empty"),
    "non-string token": ({"inputs": [["John", 3]]}, "tokens must be strings"),
    "null": ({"inputs": None}, "null"),
    "null sentence": ({"inputs": ["John", None]}, "Input 1 is null"),
    "nested garbage": ({"inputs": [{"a": {"b": [1, [2]]}}]}, "must be a string or a list"),
    "number": ({"inputs": 42}, "Unsupported input"),
    "unknown output": ({"inputs": ["John"], "params": {"output": "spans"}}, "output must be"),
    "batch size zero": ({"inputs": ["John"], "params": {"batch_size": 0}}, "batch_size"),
    "no input field": ({"text": ["John"]}, "input fields"),
    "empty token": ({"inputs": [["John", " "]]}, "empty or only whitespace"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_requests_get_400_with_a_message(server, name):
    body, message = BAD_REQUESTS[name]
    status, answer = server.post(body)
    assert status == 400, answer
    assert message in answer["message"]
    assert server.is_up()


def test_malformed_json_gets_400(server):
    status, answer = server.post(None, raw=b'{"inputs": ["John"')
    assert status == 400
    assert "JSON" in answer["message"]


def test_request_without_content_type_gets_415(server):
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.putrequest("POST", "/invocations", skip_accept_encoding=True)
        body = json.dumps({"inputs": SENTENCES}).encode()
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        answer = connection.getresponse()
        assert answer.status == 415, answer.read()
        assert b"Content-Type" in answer.read()
    finally:
        connection.close()
    assert server.is_up()


def test_saved_serving_example_validates(served_model):
    from mlflow.models import validate_serving_input

    example = (served_model / "serving_input_example.json").read_text()
    assert json.loads(example) == {"inputs": SENTENCES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated for mlflow.models.predict
        answer = validate_serving_input(str(served_model), example)
    assert [a["tokens"] for a in answer] == [s.split() for s in SENTENCES]


def test_mlflow_models_predict_cli_answers_ragged_input(served_model, in_process, tmp_path):
    source = tmp_path / "input.json"
    source.write_text(json.dumps({"inputs": TOKENS, "params": {"output": "tags"}}))
    output = tmp_path / "output.json"
    mlflow.models.predict(
        model_uri=str(served_model),
        input_path=str(source),
        output_path=str(output),
        content_type="json",
        env_manager="local",
    )
    answer = json.loads(output.read_text())
    assert answer["predictions"] == _roundtrip(in_process.predict(TOKENS, {"output": "tags"}))
