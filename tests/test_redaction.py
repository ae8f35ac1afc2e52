"""No secrets in runs: credential values from the environment never become params or tags."""

import json
import os
import warnings
from pathlib import Path

import mlflow
import pytest

import kashgari_mlflow
from kashgari_mlflow import MlflowCallback
from kashgari_mlflow._params import make_safe
from kashgari_mlflow._redaction import MASK, Redactor, is_credential_name

from .conftest import MLFLOW_MAJOR, fit_tiny, needs_logged_models

SECRET = "s3cr3t-value-123"


@pytest.mark.parametrize(
    "name",
    [
        "MY_API_TOKEN",
        "MLFLOW_TRACKING_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "DB_PASSWD",
        "SSH_PRIVATE",
        "api_key",
        "apiKey",
        "accessToken",
        "HTTP_AUTH",
        "HF_TOKEN",
        "ssh.passphrase",
    ],
)
def test_credential_names(name):
    assert is_credential_name(name)


@pytest.mark.parametrize(
    "name",
    ["PWD", "GIT_AUTHOR_NAME", "tokenizer", "KEYBOARD_LAYOUT", "HOME", "RANK", "epochs", "labels"],
)
def test_names_that_are_not_credentials(name):
    assert not is_credential_name(name)


def test_secret_values_are_masked_wherever_they_occur():
    redactor = Redactor({"MY_API_TOKEN": SECRET, "PRIVATE_MODE": "1", "TEAM": "nlp-team-1"})
    assert redactor.text(f"s3://bucket?token={SECRET}&x=1") == f"s3://bucket?token={MASK}&x=1"
    assert redactor.text("1 + 1") == "1 + 1"  # shorter than MIN_SECRET_LENGTH: not a secret
    assert redactor.text("nlp-team-1") == "nlp-team-1"  # TEAM is no credential name
    assert redactor.key(f"val_entity_f1/{SECRET}") == "val_entity_f1/REDACTED"
    assert redactor.obj({"a": [SECRET, 3], SECRET: None}) == {"a": [MASK, 3], MASK: None}
    assert redactor.sources(f"x{SECRET}x") == ["MY_API_TOKEN"]


def test_longest_secret_is_masked_whole():
    redactor = Redactor({"A_TOKEN": "abcdef", "B_TOKEN": "abcdef-ghijkl"})
    assert redactor.text("abcdef-ghijkl") == MASK


def test_values_under_credential_keys_are_masked_unless_harmless():
    redactor = Redactor({})
    assert redactor.value("api_key", "not-from-env") == MASK
    assert redactor.value("hyper_parameters.attention.key_dim", "64") == "64"
    assert redactor.value("use_auth", "True") == "True"
    assert redactor.value("team", "nlp") == "nlp"


def test_mapping_warns_with_keys_and_variable_names_never_values():
    redactor = Redactor({"MY_API_TOKEN": SECRET})
    with pytest.warns(UserWarning, match=r"Redacted tags \['api_key', 'note'\]") as record:
        tags = redactor.mapping({"note": f"see {SECRET}", "api_key": "k-123456", "a": "b"}, "tags")
    assert tags == {"note": f"see {MASK}", "api_key": MASK, "a": "b"}
    message = str(record[0].message)
    assert "MY_API_TOKEN" in message and "credential-like keys" in message
    assert SECRET not in message and "k-123456" not in message


def test_params_are_redacted_before_they_are_cut(monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    long_value = "x" * 5995 + SECRET  # MAX_PARAM_VAL_LENGTH is 6000: a cut would keep a prefix
    with pytest.warns(UserWarning, match=r"Redacted params \['listed', 'long'\]"):
        safe = make_safe({"long": long_value, "listed": ["a", SECRET]})
    assert safe["long"] == "x" * 5995 + MASK
    assert safe["listed"] == json.dumps(["a", MASK])


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and needle in path.read_bytes()
    )


def test_no_secret_reaches_the_run_end_to_end(demo_data, tracking_uri, monkeypatch, tmp_path):
    import tensorflow as tf
    from kashgari.embeddings import BareEmbedding
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    monkeypatch.setenv(
        "MLFLOW_TAGS", json.dumps({"note": f"built with {SECRET}", "api_key": "tag-key-987654"})
    )
    # MLflow's own tags come from the context (user, source, git remote URL); the user
    # name is the one that a test can set: it stands in for a token in a git remote URL.
    monkeypatch.setenv("LOGNAME", f"ci-{SECRET}")

    train_x, train_y, dev_x, dev_y = demo_data
    data = train_x[:64], train_y[:64], dev_x[:16], dev_y[:16]
    hyper = BiLSTM_CRF_Model.default_hyper_parameters()
    hyper["layer_blstm"]["units"] = 16
    hyper["notes"] = {"source": f"https://hub.example/model?token={SECRET}"}
    model = BiLSTM_CRF_Model(embedding=BareEmbedding(embedding_size=16), hyper_parameters=hyper)
    model.build_model(*data[:2])
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=0.02))
    callback = MlflowCallback(
        run_name=f"run-{SECRET}",
        tags={"deploy": SECRET, "db_password": "hunter2-hunter2"},
        registered_model_name="ner-redacted",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_tiny(data, [callback], epochs=2, model=model)

    client = mlflow.MlflowClient()
    run = client.get_run(callback.active_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["deploy"] == MASK
    assert run.data.tags["db_password"] == MASK
    assert run.data.tags["api_key"] == MASK
    assert run.data.tags["note"] == f"built with {MASK}"
    assert run.data.tags["mlflow.user"] == f"ci-{MASK}"
    assert run.info.run_name == f"run-{MASK}"
    assert run.data.params["hyper_parameters.notes.source"] == (
        f"https://hub.example/model?token={MASK}"
    )
    assert run.data.params["hyper_parameters.layer_blstm.units"] == "16"

    def holds_secret(value):
        return SECRET in str(value) or "hunter2-hunter2" in str(value) or "987654" in str(value)

    records = [
        run.info.run_name,
        run.info.user_id,
        *run.data.params.items(),
        *run.data.tags.items(),
        *run.data.metrics,
    ]
    for dataset_input in run.inputs.dataset_inputs:
        dataset = dataset_input.dataset
        records += [dataset.name, dataset.source, dataset.profile, dataset.schema]
    if MLFLOW_MAJOR >= 3:
        (logged,) = mlflow.search_logged_models(output_format="list")
        records += [*logged.params.items(), *logged.tags.items()]
    (version,) = client.search_model_versions("name='ner-redacted'")
    records += [*version.tags.items(), version.source, version.run_link]
    assert [record for record in records if holds_secret(record)] == []

    (tmp_path / "run").mkdir()
    (tmp_path / "model").mkdir()
    run_files = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "run")))
    assert {"kashgari", "plots", "entity_report"} <= {p.name for p in run_files.iterdir()}
    # MLflow 2 keeps the model among the run's artifacts: its config is checked below.
    in_model = ["model/data/model_config.json"] if MLFLOW_MAJOR < 3 else []
    assert _files_holding(run_files, SECRET.encode()) == in_model
    config = json.loads((run_files / "kashgari" / "model_config.json").read_text())
    assert config["config"]["hyper_parameters"]["notes"]["source"].endswith(f"token={MASK}")

    # The model itself keeps its Kashgari config as is (it needs it to load), with a warning.
    model_files = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=callback.model_info.model_uri, dst_path=str(tmp_path / "model")
        )
    )
    assert _files_holding(model_files, SECRET.encode()) == ["data/model_config.json"]
    messages = [str(w.message) for w in caught]
    assert not [message for message in messages if holds_secret(message)]
    assert any(
        "data/model_config.json holds the value of the environment variable(s) MY_API_TOKEN"
        in message
        and "config.hyper_parameters.notes.source" in message
        for message in messages
    )
    assert any("Redacted params ['hyper_parameters.notes.source']" in m for m in messages)
    assert any("Redacted the run name" in m for m in messages)
    assert any("Redacted MLflow context tags ['mlflow.user']" in m for m in messages)


@needs_logged_models
def test_log_model_redacts_its_params_tags_and_metadata(trained_model, tracking_uri, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    with mlflow.start_run(), pytest.warns(UserWarning, match=r"Redacted (params|tags)"):
        info = kashgari_mlflow.log_model(
            trained_model,
            "model",
            params={"source": SECRET, "epochs": 3},
            tags={"client_secret": "abcdefgh", "stage": "dev"},
            metadata={"origin": f"pulled with {SECRET}"},
            registered_model_name="ner-log-model",
        )
    logged = mlflow.MlflowClient().get_logged_model(info.model_id)
    assert logged.params["source"] == MASK and logged.params["epochs"] == "3"
    assert logged.tags["client_secret"] == MASK and logged.tags["stage"] == "dev"
    assert info.metadata == {"origin": f"pulled with {MASK}"}
    (version,) = mlflow.MlflowClient().search_model_versions("name='ner-log-model'")
    assert version.tags["client_secret"] == MASK
    assert os.environ["MY_API_TOKEN"] == SECRET


def test_url_passwords_are_masked_anywhere_in_text():
    text = (
        "pulled from https://ci:glpat-abc@gitlab.example.com/x.git, "
        "DATABASE_URL=postgresql://app:p@ss-w0rd@db:5432/prod and http://host/no-userinfo"
    )
    assert Redactor({}).text(text) == (
        "pulled from https://ci:***@gitlab.example.com/x.git, "
        "DATABASE_URL=postgresql://app:***@db:5432/prod and http://host/no-userinfo"
    )


def test_nested_values_under_credential_keys_are_masked_by_the_last_word():
    config = {
        "hyper_parameters": {"db": {"password": "hunter22", "api_key": ["k1-long", 7]}},
        "text_processor": {"token_pad": "[PAD]", "token_unk": "[UNK]"},
        "epochs": 3,
        "secret_flag": "true",
    }
    assert Redactor({}).obj(config) == {
        "hyper_parameters": {"db": {"password": MASK, "api_key": [MASK, 7]}},
        "text_processor": {"token_pad": "[PAD]", "token_unk": "[UNK]"},
        "epochs": 3,
        "secret_flag": "true",
    }


def test_input_example_dataframe_is_redacted_cell_by_cell():
    import pandas as pd

    from kashgari_mlflow._redaction import redacted_example

    frame = pd.DataFrame({"text": [f"key is {SECRET}", "John lives here"]})
    with pytest.warns(UserWarning, match=r"Redacted the input example.*MY_API_TOKEN"):
        redacted = redacted_example(Redactor({"MY_API_TOKEN": SECRET}), frame)
    assert redacted["text"].tolist() == [f"key is {MASK}", "John lives here"]


def test_saved_input_examples_hold_no_secret(trained_model, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    example = [f"John sent {SECRET} to Mary", "Paris is big"]
    with pytest.warns(UserWarning, match=r"Redacted the input example"):
        kashgari_mlflow.save_model(trained_model, str(tmp_path / "model"), input_example=example)
    for name in ("input_example.json", "serving_input_example.json"):
        text = (tmp_path / "model" / name).read_text()
        assert SECRET not in text
        assert MASK in text
