from pathlib import Path

import pytest
import yaml

import kashgari_mlflow
from kashgari_mlflow._loading import ModelFilesError
from tests.conftest import as_format_1, kashgari_tags

SENTENCES = [
    ["John", "lives", "in", "New", "York"],
    ["Mary", "works", "at", "Google", "in", "Paris", "."],
    ["Yesterday", "Angela", "Merkel", "flew", "from", "Berlin", "to", "Tokyo", "."],
    ["unseen", "words", "only"],
    ["."],
]


def test_mlmodel_has_both_flavors_and_versions(saved_model_dir: Path):
    mlmodel = yaml.safe_load((saved_model_dir / "MLmodel").read_text())
    kashgari_conf = mlmodel["flavors"]["kashgari"]
    assert kashgari_conf["kashgari_version"] == "2.0.2"
    assert kashgari_conf["tensorflow_version"].startswith("2.15")
    assert kashgari_conf["format_version"] == 2
    assert kashgari_conf["serving"] == "serving"
    assert kashgari_conf["tokenizer"] == "whitespace"
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "kashgari_mlflow.flavor"
    assert (saved_model_dir / "code" / "kashgari_mlflow" / "flavor.py").is_file()
    assert not list((saved_model_dir / "code").rglob("__pycache__"))


def test_requirements_are_pinned_and_leave_kashgari_out(saved_model_dir: Path):
    requirements = (saved_model_dir / "requirements.txt").read_text().split()
    names = {line.split("==")[0] for line in requirements}
    # Exactly what the pyfunc imports: the SavedModel needs no tensorflow-addons.
    assert names == {"mlflow", "tensorflow"}
    assert all("==" in line for line in requirements)


def test_native_load_returns_the_kashgari_class_with_identical_tags(trained_model, saved_model_dir):
    loaded = kashgari_mlflow.load_model(str(saved_model_dir))
    assert type(loaded) is type(trained_model)
    assert loaded.predict(SENTENCES) == trained_model.predict(SENTENCES)


def test_pyfunc_tags_equal_kashgari_predict(trained_model, saved_pyfunc):
    answers = saved_pyfunc.predict(SENTENCES)
    assert [a["tags"] for a in answers] == kashgari_tags(trained_model, SENTENCES)
    assert [a["tokens"] for a in answers] == SENTENCES


def test_pyfunc_on_raw_strings_gives_character_offsets(saved_pyfunc):
    text = "Yesterday  Angela Merkel flew from\tBerlin to Tokyo ."
    (answer,) = saved_pyfunc.predict([text])
    assert answer["tokens"] == text.split()
    types = {(e["type"], e["text"]) for e in answer["entities"]}
    assert ("PER", "Angela Merkel") in types
    assert ("LOC", "Berlin") in types
    for entity in answer["entities"]:
        assert text[entity["char_start"] : entity["char_end"]] == entity["text"]
        tokens = answer["tokens"][entity["token_start"] : entity["token_end"]]
        assert " ".join(tokens) == " ".join(entity["text"].split())


def test_a_string_and_a_list_give_the_same_answer(saved_pyfunc):
    text = "John lives in New York"
    assert saved_pyfunc.predict(text) == saved_pyfunc.predict([text])
    (answer,) = saved_pyfunc.predict([text])
    assert [(e["type"], e["text"]) for e in answer["entities"]] == [
        ("PER", "John"),
        ("LOC", "New York"),
    ]


def test_save_refuses_an_untrained_model(tmp_path):
    from .conftest import make_tiny_model

    with pytest.raises(ValueError, match="call fit"):
        kashgari_mlflow.save_model(make_tiny_model(), str(tmp_path / "m"))


def test_save_refuses_a_non_kashgari_object(tmp_path):
    with pytest.raises(TypeError, match="not a Kashgari labeling or classification model"):
        kashgari_mlflow.save_model(object(), str(tmp_path / "m"))


def test_log_model_and_load_by_run_uri(trained_model, logged_model):
    import mlflow

    assert logged_model.info.flavors.keys() >= {"kashgari", "python_function"}
    pyfunc = mlflow.pyfunc.load_model(f"runs:/{logged_model.run_id}/model")
    assert (
        pyfunc.predict([SENTENCES[0]])[0]["tags"] == kashgari_tags(trained_model, [SENTENCES[0]])[0]
    )


def test_truncated_weights_file_is_named_in_the_error(saved_model_dir, tmp_path):
    import shutil

    import mlflow

    broken = tmp_path / "broken"
    shutil.copytree(saved_model_dir, broken)
    as_format_1(broken)
    weights = broken / "data" / "model_weights.h5"
    weights.write_bytes(weights.read_bytes()[:2000])
    with pytest.raises(ModelFilesError, match=r"model_weights\.h5 cannot be read"):
        mlflow.pyfunc.load_model(str(broken))


def test_model_config_naming_foreign_code_is_refused(saved_model_dir, tmp_path):
    import json
    import shutil

    hostile = tmp_path / "hostile"
    shutil.copytree(saved_model_dir, hostile)
    config_path = hostile / "data" / "model_config.json"
    config = json.loads(config_path.read_text())
    config["__module__"] = "os"
    config["__class_name__"] = "system"
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelFilesError, match=r"asks to import 'os\.system' as its model"):
        kashgari_mlflow.load_model(str(hostile))


def _copy_model(saved_model_dir, target):
    """A copy in format 1 (no SavedModel): the pyfunc then reads Kashgari's files in ``data/``."""
    import shutil

    shutil.copytree(saved_model_dir, target)
    as_format_1(target)
    return target


def test_truncated_embedding_weights_are_named_by_the_native_loader(saved_model_dir, tmp_path):
    broken = _copy_model(saved_model_dir, tmp_path / "broken")
    weights = broken / "data" / "embed_model_weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelFilesError, match=r"embed_model_weights\.h5 cannot be read"):
        kashgari_mlflow.load_model(str(broken))


@pytest.mark.parametrize("loader", ["native", "pyfunc"])
def test_truncated_model_config_is_named(saved_model_dir, tmp_path, loader):
    import mlflow

    broken = _copy_model(saved_model_dir, tmp_path / "broken")
    config = broken / "data" / "model_config.json"
    config.write_text(config.read_text()[:500])
    load = kashgari_mlflow.load_model if loader == "native" else mlflow.pyfunc.load_model
    with pytest.raises(ModelFilesError, match=r"model_config\.json is not valid JSON"):
        load(str(broken))


def _network_with(saved_model_dir, tmp_path, layer):
    """A copy of the saved model whose network config gains ``layer`` after its input."""
    import json

    hostile = _copy_model(saved_model_dir, tmp_path / "hostile")
    config_path = hostile / "data" / "model_config.json"
    config = json.loads(config_path.read_text())
    layers = config["tf_model"]["config"]["layers"]
    first = layers[0]["config"]["name"]
    layer["inbound_nodes"] = [[[first, 0, 0, {}]]]
    layers.insert(1, layer)
    config_path.write_text(json.dumps(config))
    return hostile


def test_pyfunc_refuses_a_lambda_layer_and_runs_none_of_its_code(saved_model_dir, tmp_path):
    import base64
    import marshal

    import mlflow

    marker = tmp_path / "ran"

    def payload(x):  # what a hostile model would smuggle in as bytecode
        open(marker, "w").close()
        return x

    code = base64.b64encode(marshal.dumps(payload.__code__)).decode()
    lambda_layer = {
        "class_name": "Lambda",
        "name": "evil",
        "config": {
            "name": "evil",
            "trainable": True,
            "dtype": "float32",
            "function": [code, None, None],
            "function_type": "lambda",
            "module": "builtins",
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }
    hostile = _network_with(saved_model_dir, tmp_path, lambda_layer)
    with pytest.raises(ModelFilesError, match="Lambda"):
        mlflow.pyfunc.load_model(str(hostile))
    assert not marker.exists()


def test_pyfunc_refuses_a_layer_from_a_foreign_module(saved_model_dir, tmp_path):
    import mlflow

    layer = {
        "class_name": "system",
        "module": "os",
        "registered_name": "system",
        "name": "evil",
        "config": {"name": "evil"},
    }
    hostile = _network_with(saved_model_dir, tmp_path, layer)
    with pytest.raises(ModelFilesError, match=r"from module 'os', outside Keras"):
        mlflow.pyfunc.load_model(str(hostile))
