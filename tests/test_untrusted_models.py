"""Crafted model folders, one per attack: each is refused, naming why, and no payload runs.

Every model here is a copy of the suite's one saved model (``saved_model_dir``)
with one file edited the way an attacker would. A payload announces itself by
creating a marker file; each test checks the marker is absent after the refusal.
Payload modules live in a folder put on ``sys.path``, standing in for any module
an attacker can name on the victim's machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import marshal
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import kashgari_mlflow
from kashgari_mlflow._loading import ModelFilesError
from tests.conftest import as_format_1

WEIGHTS = "data/model_weights.h5"
EMBEDDING_WEIGHT = "layer_embedding/layer_embedding/embeddings:0"


def _native(path: Path) -> Any:
    return kashgari_mlflow.load_model(str(path))


def _pyfunc(path: Path) -> Any:
    import mlflow

    return mlflow.pyfunc.load_model(str(path))


BOTH_LOADERS = pytest.mark.parametrize("load", [_native, _pyfunc], ids=["native", "pyfunc"])


@pytest.fixture
def model(saved_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the suite's saved model in format 1, to be made hostile.

    Format 1 (no ``serving/``): the pyfunc then reads Kashgari's files in ``data/``,
    the path these tests attack; tests/test_serving_graph.py attacks the SavedModel.
    """
    copy = Path(shutil.copytree(saved_model_dir, tmp_path / "model"))
    as_format_1(copy)
    return copy


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """The file a payload creates when it runs."""
    return tmp_path / "payload-ran"


@pytest.fixture
def payload_module(tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module that creates the marker when imported, and holds callables."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "payload_mod.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def identity(x):\n    return x\n"
        "class Evil:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "payload_mod", raising=False)
    return "payload_mod"


def _edit_config(model: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = model / "data" / "model_config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


def _edit_mlmodel(model: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    path = model / "MLmodel"
    mlmodel = yaml.safe_load(path.read_text())
    edit(mlmodel)
    path.write_text(yaml.safe_dump(mlmodel))


def _layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = config["tf_model"]["config"]["layers"]
    return layers


def _bidirectional(config: dict[str, Any]) -> dict[str, Any]:
    return next(layer for layer in _layers(config) if layer["class_name"] == "Bidirectional")


# -- class paths: Kashgari's pydoc.locate walks attributes -------------------------------


@pytest.mark.parametrize("block", ["model", "embedding", "text_processor", "label_processor"])
def test_attribute_walk_through_kashgari_is_refused(model, marker, block):
    def walk_to_os_system(config):
        target = config if block == "model" else config[block]
        target["__module__"] = "kashgari.utils.os"
        target["__class_name__"] = "system"
        target["config"] = {"command": f"touch {marker}"}

    _edit_config(model, walk_to_os_system)
    with pytest.raises(ModelFilesError, match=rf"'kashgari\.utils\.os\.system' as its {block}"):
        _native(model)
    assert not marker.exists()


def test_dotted_class_name_is_refused(model, marker):
    def walk(config):
        config["text_processor"]["__module__"] = "kashgari.utils"
        config["text_processor"]["__class_name__"] = "os.system"
        config["text_processor"]["config"] = {"command": f"touch {marker}"}

    _edit_config(model, walk)
    with pytest.raises(ModelFilesError, match="it is not a module and class name"):
        _native(model)
    assert not marker.exists()


def test_kashgari_object_that_is_not_the_expected_class_is_refused(model):
    def swap(config):  # a real Kashgari class, but a processor where the model belongs
        config["__module__"] = "kashgari.processors.sequence_processor"
        config["__class_name__"] = "SequenceProcessor"

    _edit_config(model, swap)
    with pytest.raises(ModelFilesError, match="it is not a ABCTaskModel subclass"):
        _native(model)


def test_foreign_class_path_is_refused(model, marker, payload_module):
    def foreign(config):
        config["__module__"] = payload_module
        config["__class_name__"] = "Evil"

    _edit_config(model, foreign)
    with pytest.raises(ModelFilesError, match="it is outside Kashgari"):
        _native(model)
    assert not marker.exists()


# -- the model's code/ folder --------------------------------------------------------------


def _ship_module(model: Path, name: str, source: str) -> None:
    (model / "code" / f"{name}.py").write_text(source)


def test_extra_module_in_code_is_not_trusted_by_default(model, marker):
    _ship_module(model, "evil_models", f"open({str(marker)!r}, 'w').close()\nclass Evil: pass\n")

    def use_it(config):
        config["__module__"] = "evil_models"
        config["__class_name__"] = "Evil"

    _edit_config(model, use_it)
    path_before = list(sys.path)
    with pytest.raises(ModelFilesError, match="it is outside Kashgari"):
        _native(model)
    assert not marker.exists()
    assert sys.path == path_before
    assert "evil_models" not in sys.modules


def test_code_kashgari_shadow_package_is_refused(model, marker):
    shadow = model / "code" / "kashgari"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(ModelFilesError, match="would shadow the installed 'kashgari'"):
        kashgari_mlflow.load_model(str(model), allow_untrusted_classes=True)
    assert not marker.exists()


def test_absolute_code_path_is_refused(model):
    _edit_mlmodel(
        model,
        lambda m: m["flavors"]["kashgari"].update(code=str(Path(json.__file__).parent.parent)),
    )
    with pytest.raises(ModelFilesError, match="must be a relative path inside the model folder"):
        kashgari_mlflow.load_model(str(model), allow_untrusted_classes=True)


@BOTH_LOADERS
def test_data_path_leaving_the_model_folder_is_refused(model, tmp_path, load):
    outside = tmp_path / "outside"
    shutil.copytree(model / "data", outside)

    def escape(mlmodel):
        for flavor in ("kashgari", "python_function"):
            mlmodel["flavors"][flavor]["data"] = "../outside"

    _edit_mlmodel(model, escape)
    with pytest.raises(ModelFilesError, match="leads outside the model folder"):
        load(model)


def test_refused_trusted_load_leaves_sys_path_and_modules_as_they_were(model, marker):
    _ship_module(model, "leaky_mod", f"open({str(marker)!r}, 'w').close()\nclass NotAModel: pass\n")

    def use_it(config):
        config["__module__"] = "leaky_mod"
        config["__class_name__"] = "NotAModel"

    _edit_config(model, use_it)
    path_before = list(sys.path)
    with pytest.raises(ModelFilesError, match="it is not a ABCTaskModel subclass"):
        kashgari_mlflow.load_model(str(model), allow_untrusted_classes=True)
    assert marker.exists()  # opted in: the module was imported, as documented
    assert sys.path == path_before
    assert "leaky_mod" not in sys.modules


SUBCLASS = """
from kashgari.tasks.labeling import BiLSTM_CRF_Model


class CompanyNER(BiLSTM_CRF_Model):
    pass
"""


def test_shipped_subclass_loads_only_when_the_caller_opts_in(model):
    _ship_module(model, "company_ner", SUBCLASS)

    def use_it(config):
        config["__module__"] = "company_ner"
        config["__class_name__"] = "CompanyNER"

    _edit_config(model, use_it)
    with pytest.raises(ModelFilesError, match=r"'company_ner\.CompanyNER' as its model"):
        _native(model)
    trusted = kashgari_mlflow.load_model(str(model), allow_untrusted_classes=True)
    assert type(trusted).__name__ == "CompanyNER"
    assert trusted.tf_model.count_params() > 0


# -- Keras configs ----------------------------------------------------------------------


def _function_lambda(module: str) -> dict[str, Any]:
    return {
        "class_name": "Lambda",
        "config": {
            "name": "evil",
            "trainable": True,
            "dtype": "float32",
            "function": {"class_name": "function", "config": "identity", "module": module},
            "function_type": "function",
            "module": module,
            "output_shape": None,
            "output_shape_type": "raw",
            "output_shape_module": None,
            "arguments": {},
        },
    }


def _bytecode_lambda(marker: Path) -> dict[str, Any]:
    def payload(x):
        open(marker, "w").close()
        return x

    layer = _function_lambda("builtins")
    layer["config"]["function"] = [
        base64.b64encode(marshal.dumps(payload.__code__)).decode(),
        None,
        None,
    ]
    layer["config"]["function_type"] = "lambda"
    return layer


def _insert_after_input(config: dict[str, Any], layer: dict[str, Any]) -> None:
    layers = _layers(config)
    layer["name"] = layer["config"]["name"]
    layer["inbound_nodes"] = [[[layers[0]["config"]["name"], 0, 0, {}]]]
    layers.insert(1, layer)


@BOTH_LOADERS
def test_function_type_lambda_is_refused(model, marker, payload_module, load):
    _edit_config(model, lambda c: _insert_after_input(c, _function_lambda(payload_module)))
    with pytest.raises(ModelFilesError, match="Lambda 'evil' is a Lambda-type layer"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
@pytest.mark.parametrize("wrapper", ["Bidirectional", "TimeDistributed", "Sequential"])
def test_bytecode_lambda_nested_in_a_wrapper_is_refused(model, marker, load, wrapper):
    def nest(config):
        lambda_layer = _bytecode_lambda(marker)
        if wrapper == "Bidirectional":
            _bidirectional(config)["config"]["layer"] = lambda_layer
        elif wrapper == "TimeDistributed":
            outer = {
                "class_name": "TimeDistributed",
                "config": {"name": "td", "layer": lambda_layer},
            }
            _insert_after_input(config, outer)
        else:
            inner = {
                "class_name": "Sequential",
                "config": {"name": "seq", "layers": [lambda_layer]},
            }
            _insert_after_input(config, inner)

    _edit_config(model, nest)
    with pytest.raises(ModelFilesError, match="Lambda 'evil' is a Lambda-type layer"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
def test_lambda_in_the_embedding_model_is_refused(model, marker, load):
    def embed(config):
        layers = config["embedding"]["embed_model"]["config"]["layers"]
        layers.insert(1, _bytecode_lambda(marker))

    _edit_config(model, embed)
    with pytest.raises(ModelFilesError, match=r"embedding\.embed_model .*Lambda-type layer"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
def test_layer_from_a_foreign_module_is_refused(model, marker, payload_module, load):
    layer = {"class_name": "Evil", "module": payload_module, "config": {"name": "evil"}}
    _edit_config(model, lambda c: _insert_after_input(c, layer))
    with pytest.raises(ModelFilesError, match="from module 'payload_mod', outside Keras"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
def test_activation_from_a_foreign_module_is_refused(model, marker, payload_module, load):
    def activation(config):
        dense = next(layer for layer in _layers(config) if layer["class_name"] == "Dense")
        dense["config"]["activation"] = {
            "class_name": "function", "config": "identity", "module": payload_module
        }  # fmt: skip

    _edit_config(model, activation)
    with pytest.raises(ModelFilesError, match="from module 'payload_mod'"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
@pytest.mark.parametrize("name", ["exec", "open", "__import__", "print"])
def test_an_activation_taken_from_builtins_is_refused(model, load, name):
    """Keras writes registered functions (BERT's gelu_erf) with module "builtins" and
    would take any other name from the builtins module."""

    def activation(config):
        dense = next(layer for layer in _layers(config) if layer["class_name"] == "Dense")
        dense["config"]["activation"] = {
            "class_name": "function", "config": name, "module": "builtins"
        }  # fmt: skip

    _edit_config(model, activation)
    with pytest.raises(ModelFilesError, match="from module 'builtins'"):
        load(model)


@BOTH_LOADERS
def test_huge_input_dim_is_refused_before_allocation(model, load):
    def huge(config):
        embedding = next(layer for layer in _layers(config) if layer["class_name"] == "Embedding")
        embedding["config"]["input_dim"] = 2_000_000_000

    _edit_config(model, huge)
    with pytest.raises(ModelFilesError, match="input_dim=2,000,000,000, over the limit"):
        load(model)


def test_huge_sequence_length_is_refused(model):
    _edit_config(model, lambda c: c["config"].update(sequence_length=10**9))
    with pytest.raises(ModelFilesError, match="sequence_length=1,000,000,000, over the limit"):
        _native(model)


def _op_layer(marker: Path) -> dict[str, Any]:
    """A TensorFlowOpLayer whose op, DebugIdentity, writes its input under ``marker``."""
    url = base64.b64encode(f"file://{marker}".encode()).decode()
    return {
        "class_name": "TensorFlowOpLayer",
        "name": "tf_op_layer_dbg",
        "config": {
            "name": "dbg", "constants": {}, "trainable": True, "dtype": "float32",
            "node_def": {
                "name": "dbg", "op": "DebugIdentity", "input": ["input"],
                "attr": {"T": {"type": "DT_FLOAT"}, "debug_urls": {"list": {"s": [url]}}},
            },
        },
    }  # fmt: skip


def _wrapper_layer(class_name: str) -> dict[str, Any]:
    return {"class_name": class_name, "config": {"name": "call", "function": "__class__"}}


@BOTH_LOADERS
@pytest.mark.parametrize(
    "layer", ["TensorFlowOpLayer", "InstanceMethod", "InstanceProperty", "ClassMethod"]
)
def test_op_and_method_wrappers_are_refused(model, marker, load, layer):
    crafted = _op_layer(marker) if layer == "TensorFlowOpLayer" else _wrapper_layer(layer)
    _edit_config(model, lambda c: _insert_after_input(c, crafted))
    with pytest.raises(ModelFilesError, match="op wrapper: it would run a function or op"):
        load(model)
    assert not marker.exists()


@BOTH_LOADERS
@pytest.mark.parametrize(("layer", "key"), [("StringLookup", "vocabulary"),
                                            ("IntegerLookup", "vocabulary"),
                                            ("TextVectorization", "idf_weights")])  # fmt: skip
def test_preprocessing_layer_naming_a_file_is_refused_unread(model, tmp_path, load, layer, key):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root-password\n")
    lookup = {"class_name": layer, "name": "peek", "inbound_nodes": [],
              "config": {"name": "peek", key: str(outside / "secret.txt")}}  # fmt: skip
    _edit_config(model, lambda c: _layers(c).append(lookup))
    with _opened_under(outside) as opened, pytest.raises(ModelFilesError, match="names a file"):
        load(model)
    assert opened == []


@BOTH_LOADERS
@pytest.mark.parametrize("units", ["40000000", 4e7, 16.0, True])
def test_a_size_that_is_not_a_whole_number_is_refused(model, load, units):
    def set_units(config):
        dense = next(layer for layer in _layers(config) if layer["class_name"] == "Dense")
        dense["config"]["units"] = units

    _edit_config(model, set_units)
    with pytest.raises(ModelFilesError, match=r"units=.* is not a whole number"):
        load(model)


@BOTH_LOADERS
def test_a_huge_convolution_window_is_refused(model, load):
    conv = {"class_name": "Conv1D", "name": "conv", "inbound_nodes": [],
            "config": {"name": "conv", "filters": 16, "kernel_size": [10_000_000]}}  # fmt: skip
    _edit_config(model, lambda c: _layers(c).append(conv))
    with pytest.raises(ModelFilesError, match="kernel_size=10,000,000, over the limit"):
        load(model)


@BOTH_LOADERS
@pytest.mark.parametrize("special", ["__numpy__", "__tensor__", "__lambda__", "__typespec__"])
def test_values_keras_would_decode_into_objects_are_refused(model, load, special):
    """Tensors, type specs and lambdas; a ``__numpy__`` array only of a numeric dtype.

    A ``__numpy__`` value of dtype S2000000000 is 200 bytes of JSON and 8 GB of memory.
    """

    def set_bias(config):
        dense = next(layer for layer in _layers(config) if layer["class_name"] == "Dense")
        value = {"class_name": special, "config": {"value": [0, 0], "dtype": "S2000000000"}}
        dense["config"]["bias_initializer"] = {
            "class_name": "Constant", "module": "keras.initializers", "config": {"value": value}
        }  # fmt: skip

    _edit_config(model, set_bias)
    with pytest.raises(ModelFilesError, match=f"holds a '{special}' (value|array of dtype 'S)"):
        load(model)


@BOTH_LOADERS
def test_a_cell_wrapper_function_type_is_refused(model, marker, load):
    wrapper = _bytecode_lambda(marker)
    wrapper["config"].pop("function_type", None)
    wrapper["config"]["residual_fn_type"] = "lambda"
    wrapper["class_name"] = "ResidualWrapper"
    _edit_config(model, lambda c: _insert_after_input(c, wrapper))
    with pytest.raises(ModelFilesError, match="Lambda-type layer or op wrapper"):
        load(model)
    assert not marker.exists()


# -- the tokenizer named in MLmodel ----------------------------------------------------------


@pytest.mark.parametrize("tokenizer", ["os:system", "payload_mod:identity"])
def test_tokenizer_outside_the_model_code_is_refused(model, marker, payload_module, tokenizer):
    _edit_mlmodel(model, lambda m: m["flavors"]["kashgari"].update(tokenizer=tokenizer))
    with pytest.raises(ModelFilesError, match="not a module shipped in the model's own code"):
        _pyfunc(model)
    assert not marker.exists()


@pytest.mark.parametrize("tokenizer", ["my_tok:os.system", "kashgari_mlflow._tokenizers:os.system"])
def test_tokenizer_walking_to_a_foreign_function_is_refused(model, tokenizer):
    _ship_module(model, "my_tok", "import os\ndef split(text):\n    return text.split()\n")
    _edit_mlmodel(model, lambda m: m["flavors"]["kashgari"].update(tokenizer=tokenizer))
    # Refused either at the walk or because the shipped module has no such name.
    refused = r"is not a (module shipped|function defined) in|cannot be imported"
    with pytest.raises(ModelFilesError, match=refused):
        _pyfunc(model)


# -- HDF5 weights files ------------------------------------------------------------------


def _replace_weight(model: Path, make: Callable[[Any, str], None]) -> None:
    import h5py

    with h5py.File(model / WEIGHTS, "r+") as handle:
        del handle[EMBEDDING_WEIGHT]
        make(handle, EMBEDDING_WEIGHT)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A local file the attacker wants served back as weights."""
    path = tmp_path / "secret.env"
    path.write_bytes(b"AWS_SECRET_ACCESS_KEY=abc123".ljust(139 * 16 * 4, b" "))
    return path


def _external_storage(secret: Path) -> Callable[[Any, str], None]:
    return lambda f, name: f.create_dataset(
        name, shape=(139, 16), dtype="float32", external=[(str(secret), 0, 139 * 16 * 4)]
    )


def _virtual(secret_h5: Path) -> Callable[[Any, str], None]:
    def make(f: Any, name: str) -> None:
        import h5py

        layout = h5py.VirtualLayout(shape=(139, 16), dtype="float32")
        layout[:] = h5py.VirtualSource(str(secret_h5), "data", shape=(139, 16))
        f.create_virtual_dataset(name, layout)

    return make


def _external_link(secret_h5: Path) -> Callable[[Any, str], None]:
    import h5py

    return lambda f, name: f.__setitem__(name, h5py.ExternalLink(str(secret_h5), "data"))


def _soft_link() -> Callable[[Any, str], None]:
    import h5py

    return lambda f, name: f.__setitem__(name, h5py.SoftLink("/dense/dense/kernel:0"))


@pytest.fixture
def secret_h5(tmp_path: Path) -> Path:
    import h5py
    import numpy as np

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["data"] = np.zeros((139, 16), dtype="float32")
    return path


@BOTH_LOADERS
@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("external_storage", "keeps its data in external files"),
        ("virtual", "is a virtual dataset"),
        ("external_link", "is an external link"),
        ("soft_link", "is a soft link"),
        ("string_dtype", "not numbers"),
        ("huge_shape", "over the limit of"),
        ("wrong_shape", "declares weights of shapes"),
    ],
)
def test_hostile_weights_file_is_refused_before_it_is_read(
    model, secret, secret_h5, load, attack, reason
):
    import numpy as np

    makers: dict[str, Callable[[Any, str], None]] = {
        "external_storage": _external_storage(secret),
        "virtual": _virtual(secret_h5),
        "external_link": _external_link(secret_h5),
        "soft_link": _soft_link(),
        "string_dtype": lambda f, name: f.create_dataset(name, data=np.array([b"x"] * 139)),
        "huge_shape": lambda f, name: f.create_dataset(
            name, shape=(2_000_000_000, 16), dtype="float32", chunks=(1024, 16)
        ),
        "wrong_shape": lambda f, name: f.create_dataset(name, data=np.zeros((140, 16), "float32")),
    }
    _replace_weight(model, makers[attack])
    with pytest.raises(ModelFilesError, match=reason):
        load(model)


def _edit_weights_file(model: Path, edit: Callable[[Any], None]) -> None:
    import h5py

    with h5py.File(model / WEIGHTS, "r+") as handle:
        edit(handle)


def _dense_group(handle: Any) -> Any:
    names = [n.decode() if isinstance(n, bytes) else n for n in handle.attrs["layer_names"]]
    return handle[next(name for name in names if name.startswith("dense"))]


def _references_as_weight_names(handle: Any) -> None:
    import h5py

    group = _dense_group(handle)
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    references = [group[name].ref for name in names]
    del group.attrs["weight_names"]
    group.attrs.create("weight_names", references, dtype=h5py.ref_dtype)


def _group_as_weight_name(handle: Any) -> None:
    import numpy as np

    group = _dense_group(handle)
    names = [n if isinstance(n, bytes) else n.encode() for n in group.attrs["weight_names"]]
    names[0] = group.name.encode()
    group.attrs["weight_names"] = np.array(names, dtype="S")


def _plugin_filter(handle: Any) -> None:
    import numpy as np

    del handle[EMBEDDING_WEIGHT]
    handle.create_dataset(
        EMBEDDING_WEIGHT, data=np.zeros((139, 16), "float32"), chunks=(139, 16),
        compression=32004, allow_unknown_filter=True,
    )  # fmt: skip


@BOTH_LOADERS
@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (_references_as_weight_names, "attribute 'weight_names' of object references"),
        (_group_as_weight_name, "which is a Group, not a Dataset"),
        (_plugin_filter, "uses HDF5 filter 32004, which would load a plugin"),
    ],
    ids=["object references", "a group as a weight", "a plugin filter"],
)
def test_weights_file_attributes_and_filters_are_checked(model, load, attack, reason):
    _edit_weights_file(model, attack)
    with pytest.raises(ModelFilesError, match=reason):
        load(model)


def test_damaged_file_diagnosis_reads_no_data(model, monkeypatch):
    import h5py

    from kashgari_mlflow._loading import diagnose_load_failure

    def no_reads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the diagnosis read a dataset")

    monkeypatch.setattr(h5py.Dataset, "__getitem__", no_reads)
    monkeypatch.setattr(h5py.Dataset, "read_direct", no_reads)
    error = diagnose_load_failure(str(model / "data"), ValueError("boom"))
    assert "boom" in str(error)


# -- paths named in the embedding's config --------------------------------------------------

#: Paths under this folder that the process opened, while recording (see ``_opened_under``).
_recording: dict[str, list[str]] = {}


def _record_opens(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _recording and isinstance(args[0], str | bytes | Path):
        path = str(args[0] if not isinstance(args[0], bytes) else args[0].decode())
        for folder, opened in _recording.items():
            if path.startswith(folder):
                opened.append(path)


sys.addaudithook(_record_opens)  # audit hooks stay for the process; this one idles


@contextlib.contextmanager
def _opened_under(folder: Path) -> Iterator[list[str]]:
    """Every path under ``folder`` that Python opens inside the block."""
    _recording[str(folder)] = opened = []
    try:
        yield opened
    finally:
        del _recording[str(folder)]


def _outside_files(folder: Path) -> dict[str, str]:
    """Readable embedding files outside the model: what a crafted config points at."""
    folder.mkdir()
    (folder / "vectors.txt").write_text("2 2\nJohn 0.1 0.2\nParis 0.3 0.4\n")
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nJohn\n")
    (folder / "bert_config.json").write_text("{}")
    return {
        "w2v_path": str(folder / "vectors.txt"),
        "vocab_path": str(folder / "vocab.txt"),
        "config_path": str(folder / "bert_config.json"),
        "checkpoint_path": str(folder / "bert_model.ckpt"),
        "model_folder": str(folder),
    }


_TRANSFORMER_PATHS = ["vocab_path", "config_path", "checkpoint_path"]


@pytest.mark.parametrize(
    ("module", "name", "keys"),
    [
        ("word_embedding", "WordEmbedding", ["w2v_path"]),
        ("transformer_embedding", "TransformerEmbedding", _TRANSFORMER_PATHS),
        ("bert_embedding", "BertEmbedding", ["model_folder", *_TRANSFORMER_PATHS]),
    ],
)
@BOTH_LOADERS
def test_files_named_by_the_embedding_config_are_never_opened(
    model, tmp_path, module, name, keys, load
):
    """Kashgari's embeddings read their vocabulary file when created; loading must not."""
    paths = _outside_files(tmp_path / "outside")

    def point_outside(config: dict[str, Any]) -> None:
        block = config["embedding"]
        block["__class_name__"] = name
        block["__module__"] = f"kashgari.embeddings.{module}"
        block["config"].update({key: paths[key] for key in keys})

    _edit_config(model, point_outside)
    if load is _native:
        import kashgari_mlflow._compat

        kashgari_mlflow._compat.support_gensim4()
    with _opened_under(tmp_path / "outside") as opened:
        loaded = load(model)
    assert opened == []
    assert loaded is not None


# -- honest models still load -------------------------------------------------------------


@BOTH_LOADERS
def test_the_honest_shared_model_loads(model, load):
    loaded = load(model)
    assert loaded is not None


def test_native_loader_ignores_a_code_kashgari_shadow_and_keeps_sys_path(model, marker):
    shadow = model / "code" / "kashgari"
    shadow.mkdir()
    (shadow / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    path_before = list(sys.path)
    assert type(_native(model)).__name__ == "BiLSTM_CRF_Model"
    assert not marker.exists()
    assert sys.path == path_before  # code/ never went on sys.path
