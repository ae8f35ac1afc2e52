"""The SavedModel every saved model carries: served with TensorFlow alone, and checked first."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import yaml

import kashgari_mlflow
from kashgari_mlflow._loading import ModelFilesError
from tests.conftest import as_format_1, block_imports

SENTENCES = [
    ["John", "lives", "in", "New", "York"],
    ["Mary", "works", "at", "Google"],
    ["Paris"],
]


def kashgari_tags(model: Any, sentences: list[list[str]]) -> list[list[str]]:
    from kashgari_mlflow._entities import is_internal_label

    return [["O" if is_internal_label(t) else t for t in tags] for tags in model.predict(sentences)]


def copy_model(saved_model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(saved_model_dir, target)
    return target


def edit_flavor(model_dir: Path, **changes: Any) -> None:
    path = model_dir / "MLmodel"
    mlmodel = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if value is None:
            mlmodel["flavors"]["kashgari"].pop(key, None)
        else:
            mlmodel["flavors"]["kashgari"][key] = value
    path.write_text(yaml.safe_dump(mlmodel))


def test_pyfunc_serves_with_tensorflow_alone(trained_model, saved_model_dir, monkeypatch):
    expected = kashgari_tags(trained_model, SENTENCES)
    block_imports(monkeypatch)
    pyfunc = mlflow.pyfunc.load_model(str(saved_model_dir))
    assert [answer["tags"] for answer in pyfunc.predict(SENTENCES)] == expected


def test_a_model_saved_while_functions_run_eagerly_loads(trained_model, tmp_path):
    """Users debugging with tf.config.run_functions_eagerly(True) save loadable models."""
    import tensorflow as tf

    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        kashgari_mlflow.save_model(trained_model, str(tmp_path / "model"))
    finally:
        tf.config.run_functions_eagerly(was_eager)
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert [a["tags"] for a in pyfunc.predict(SENTENCES)] == kashgari_tags(trained_model, SENTENCES)


def test_every_activation_keras_resolves_by_name_exports_allowed_ops():
    # Kashgari hands its hyper-parameters to Keras' layers, so any name Keras resolves
    # (its activation functions, and its activation layers' class names) can reach an
    # exported graph; an op outside the allowlist would refuse the model at save.
    import tensorflow as tf
    from keras.src import activations
    from keras.src.layers import activation as activation_layers

    from kashgari_mlflow._graph_ops import ALLOWED_OPS, HYPER_PARAMETER_OPS

    spec = tf.TensorSpec([None, 3], tf.float32)
    candidates = set(dir(activations)) | set(dir(activation_layers))
    traced = {}
    for name in sorted(candidates - {"get", "serialize", "deserialize"}):
        try:
            layer = tf.keras.layers.Dense(2, activation=name)
            function = tf.function(layer, autograph=False).get_concrete_function(spec)
        except (AttributeError, TypeError, ValueError):  # not an activation
            continue
        traced[name] = {operation.type for operation in function.graph.get_operations()}
    assert {"hard_sigmoid", "selu", "relu6", "log_softmax", "swish", "ThresholdedReLU"} <= set(
        traced
    )
    refused = {name: ops - ALLOWED_OPS - HYPER_PARAMETER_OPS for name, ops in traced.items()}
    assert not {name: ops for name, ops in refused.items() if ops}


def test_a_layer_of_the_users_own_that_branches_on_a_tensor_traces(trained_model):
    # Kashgari's and Keras' layers trace without AutoGraph; a layer of the user's
    # own may need it to turn `if` on a tensor into a graph conditional.
    import tensorflow as tf

    from kashgari_mlflow._serving_graph import inference_function, needs_autograph

    class SignFlip(tf.keras.layers.Layer):
        def call(self, inputs):
            if tf.reduce_sum(inputs) > 0:
                return inputs
            return -inputs

    token_ids = tf.keras.Input(shape=(None,), dtype=tf.int32)
    hidden = SignFlip()(tf.keras.layers.Embedding(10, 4)(token_ids))
    pooled = tf.keras.layers.GlobalAveragePooling1D()(hidden)
    network = tf.keras.Model(token_ids, tf.keras.layers.Dense(3, activation="softmax")(pooled))
    ids = tf.constant([[1, 2, 3], [4, 5, 0]], tf.int32)

    served = inference_function(network, "classification", segment=False)(ids)
    np.testing.assert_allclose(served["probabilities"], network(ids), rtol=1e-6)
    assert needs_autograph(network)
    assert not needs_autograph(trained_model.tf_model)


@pytest.mark.parametrize(
    ("task", "model_class", "changes", "their_ops"),
    [
        pytest.param(
            "labeling",
            "BiLSTM_Model",
            {
                "layer_blstm": {"activation": "selu", "recurrent_activation": "hard_sigmoid"},
                "layer_activation": {"activation": "log_softmax"},
            },
            {"Selu", "Minimum", "LogSoftmax"},
            id="activations",
        ),
        pytest.param(
            "labeling",
            "BiGRU_CRF_Model",
            {"layer_bgru": {"dropout": 0.2, "recurrent_dropout": 0.2}},
            set(),
            id="recurrent dropout",
        ),
        pytest.param(
            "classification",
            "CNN_Model",
            {"conv1d_layer": {"padding": "causal"}},
            {"Pad"},
            id="causal convolution",
        ),
        pytest.param(
            "classification",
            "CNN_Model",
            {"conv1d_layer": {"padding": "same", "dilation_rate": 2}},
            {"SpaceToBatchND", "BatchToSpaceND"},
            id="dilated convolution",
        ),
    ],
)
def test_a_model_with_other_hyper_parameters_saves_and_serves(
    task, model_class, changes, their_ops, demo_data, tmp_path
):
    # Kashgari passes its hyper-parameters to Keras' layers: each of these once
    # stopped the model from being exported or its graph from passing the op check.
    # (Recurrent dropout broke the trace of the inference graph, which the callback's
    # evaluation shares: a graph-mode fit with MlflowCallback() crashed at its first
    # evaluation.)
    from kashgari.embeddings import BareEmbedding
    from kashgari.tasks import classification, labeling

    from kashgari_mlflow._graph_ops import graph_ops

    train_x, train_y, _, _ = demo_data
    cls = getattr(labeling if task == "labeling" else classification, model_class)
    hyper = cls.default_hyper_parameters()
    for layer, settings in changes.items():
        hyper[layer].update(settings)
    for layer in hyper.values():
        for size in ("units", "filters"):
            if size in layer:
                layer[size] = 8
    model = cls(BareEmbedding(embedding_size=8), hyper_parameters=hyper)
    targets = train_y[:32] if task == "labeling" else [tags[0] for tags in train_y[:32]]
    model.build_model(train_x[:32], targets)
    kashgari_mlflow.save_model(model, str(tmp_path / "model"))
    exported = graph_ops(str(tmp_path / "model" / "serving" / "saved_model" / "saved_model.pb"))
    assert their_ops <= exported  # the settings took effect in the graph
    answers = mlflow.pyfunc.load_model(str(tmp_path / "model")).predict(SENTENCES)
    if task == "labeling":
        assert [answer["tags"] for answer in answers] == kashgari_tags(model, SENTENCES)
    else:
        expected = [str(label) for label in model.predict(SENTENCES)]
        assert [answer["label"] for answer in answers] == expected


def test_saved_model_answers_token_ids_with_label_ids(trained_model, saved_model_dir):
    import tensorflow as tf

    encode = trained_model.text_processor.transform
    token_ids = encode(SENTENCES, seq_length=max(map(len, SENTENCES)) + 2)
    loaded = tf.saved_model.load(str(saved_model_dir / "serving" / "saved_model"))
    serve = loaded.signatures["serving_default"]
    label_ids = serve(token_ids=tf.constant(token_ids, tf.int32))["label_ids"].numpy()

    idx2label = trained_model.label_processor.idx2vocab
    tags = [
        [idx2label[int(i)] for i in row[1 : len(sentence) + 1]]
        for row, sentence in zip(label_ids, SENTENCES, strict=True)
    ]
    assert tags == trained_model.predict(SENTENCES)
    assert serve.structured_input_signature[1]["token_ids"].shape.as_list() == [None, None]


def test_recurrent_layers_are_exported_as_one_plain_loop(saved_model_dir):
    from kashgari_mlflow._graph_ops import graph_ops

    ops = graph_ops(str(saved_model_dir / "serving" / "saved_model" / "saved_model.pb"))
    assert "While" in ops
    assert not {op for op in ops if op.startswith("CudnnRNN") or op.endswith("Grad")}


def test_a_graph_with_both_recurrent_implementations_still_loads(
    trained_model, tmp_path, monkeypatch
):
    """Models saved before the plain-loop export carry cuDNN kernels and gradients."""
    import contextlib

    from kashgari_mlflow import _serving_graph
    from kashgari_mlflow._graph_ops import graph_ops

    monkeypatch.setattr(_serving_graph, "plain_recurrent_loops", lambda _: contextlib.nullcontext())
    monkeypatch.setattr(_serving_graph, "_TRACED", type(_serving_graph._TRACED)())
    kashgari_mlflow.save_model(trained_model, str(tmp_path / "model"))
    ops = graph_ops(str(tmp_path / "model" / "serving" / "saved_model" / "saved_model.pb"))
    assert "CudnnRNNV3" in ops

    expected = kashgari_tags(trained_model, SENTENCES)
    monkeypatch.undo()
    block_imports(monkeypatch)
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert [answer["tags"] for answer in pyfunc.predict(SENTENCES)] == expected


def test_a_format_1_model_still_loads_through_kashgari_files(
    trained_model, saved_model_dir, tmp_path
):
    old = copy_model(saved_model_dir, tmp_path)
    as_format_1(old)
    pyfunc = mlflow.pyfunc.load_model(str(old))
    expected = kashgari_tags(trained_model, SENTENCES)
    assert [answer["tags"] for answer in pyfunc.predict(SENTENCES)] == expected


def test_a_newer_format_is_refused_by_both_loaders(saved_model_dir, tmp_path):
    newer = copy_model(saved_model_dir, tmp_path)
    edit_flavor(newer, format_version=kashgari_mlflow.flavor.FORMAT_VERSION + 1)
    with pytest.raises(ModelFilesError, match=r"kashgari format 3, newer than the 2"):
        mlflow.pyfunc.load_model(str(newer))
    with pytest.raises(ModelFilesError, match=r"kashgari format 3, newer than the 2"):
        kashgari_mlflow.load_model(str(newer))


def test_a_missing_vocabulary_names_the_file(saved_model_dir, tmp_path):
    broken = copy_model(saved_model_dir, tmp_path)
    (broken / "serving" / "vocabulary.json").unlink()
    with pytest.raises(ModelFilesError, match=r"vocabulary\.json is missing"):
        mlflow.pyfunc.load_model(str(broken))


def _hostile_saved_model(path: Path, body: Any) -> None:
    """A SavedModel with the exported graph's signature, whose function runs ``body``."""
    import tensorflow as tf

    class Hostile(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids")])
        def serve(self, token_ids: Any) -> dict[str, Any]:
            with tf.control_dependencies([body()]):
                return {"label_ids": tf.zeros_like(token_ids)}

    module = Hostile()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def _write_at_top_level(marker: str) -> Any:
    import tensorflow as tf

    return lambda: tf.io.write_file(marker, "written")


def _write_in_a_loop(marker: str) -> Any:
    """A ``While`` whose body writes the file: the op sits in the body's function."""
    import tensorflow as tf

    def body(step: Any) -> list[Any]:
        with tf.control_dependencies([tf.io.write_file(marker, "written")]):
            return [step + 1]

    return lambda: tf.while_loop(lambda step: step < 1, body, [tf.constant(0)])[0]


def _write_in_a_branch(marker: str) -> Any:
    """An ``If`` on a value known only at run time, whose taken branch writes the file."""
    import tensorflow as tf

    def write() -> Any:
        with tf.control_dependencies([tf.io.write_file(marker, "written")]):
            return tf.constant(1)

    return lambda: tf.cond(tf.random.uniform([]) < 2.0, write, lambda: tf.constant(0))


@pytest.mark.parametrize(
    ("op", "body"),
    [
        ("WriteFile", _write_at_top_level),
        ("WriteFile", _write_in_a_loop),
        ("WriteFile", _write_in_a_branch),
        (
            "ReadFile",
            lambda marker: (
                lambda: __import__("tensorflow").io.write_file(
                    marker, __import__("tensorflow").io.read_file("/etc/hostname")
                )
            ),
        ),
        (
            "RestoreV2",
            lambda marker: (
                lambda: __import__("tensorflow").raw_ops.RestoreV2(
                    prefix=marker, tensor_names=["x"], shape_and_slices=[""], dtypes=["float32"]
                )[0]
            ),
        ),
    ],
)
def test_a_saved_model_with_file_io_is_refused_before_it_runs(saved_model_dir, tmp_path, op, body):
    marker = tmp_path / "marker.txt"
    hostile = copy_model(saved_model_dir, tmp_path)
    shutil.rmtree(hostile / "serving" / "saved_model")
    _hostile_saved_model(hostile / "serving" / "saved_model", body(str(marker)))

    with pytest.raises(ModelFilesError, match=rf"'{op}'"):
        mlflow.pyfunc.load_model(str(hostile))
    assert not marker.exists()


@pytest.mark.parametrize("change", ["no object graph", "two graphs"])
def test_a_saved_model_for_the_tf1_loader_is_refused(saved_model_dir, tmp_path, change):
    # TensorFlow's TF1 loader runs the file's own saver_def restore op while loading:
    # the checkpoint ops the allowlist lets through there would write or delete files.
    from tensorflow.core.protobuf import saved_model_pb2

    crafted = copy_model(saved_model_dir, tmp_path)
    pb = crafted / "serving" / "saved_model" / "saved_model.pb"
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pb.read_bytes())
    if change == "no object graph":
        proto.meta_graphs[0].ClearField("object_graph_def")
    else:
        proto.meta_graphs.add().CopyFrom(proto.meta_graphs[0])
    pb.write_bytes(proto.SerializeToString())

    with pytest.raises(ModelFilesError, match="TF1 loader"):
        mlflow.pyfunc.load_model(str(crafted))


def test_a_serving_file_linking_outside_the_model_is_refused(saved_model_dir, tmp_path):
    crafted = copy_model(saved_model_dir, tmp_path)
    vocabulary = crafted / "serving" / "vocabulary.json"
    outside = tmp_path / "elsewhere.json"
    outside.write_text(vocabulary.read_text())
    vocabulary.unlink()
    vocabulary.symlink_to(outside)
    with pytest.raises(ModelFilesError, match="outside the model folder"):
        mlflow.pyfunc.load_model(str(crafted))


def test_variables_declared_past_the_size_limit_are_refused(saved_model_dir, tmp_path, monkeypatch):
    from kashgari_mlflow._safety import limits

    monkeypatch.setattr(limits, "MAX_WEIGHT_BYTES", 1024)  # the tiny model declares more
    with pytest.raises(ModelFilesError, match=r"declares .* bytes of variables"):
        mlflow.pyfunc.load_model(str(copy_model(saved_model_dir, tmp_path)))


@pytest.mark.parametrize("where", ["top level", "loop body", "branch"])
def test_the_hostile_graph_would_write_the_marker_if_loaded(tmp_path, where):
    """The adversarial SavedModels really write: the tests above can fail."""
    import tensorflow as tf

    marker = tmp_path / "marker.txt"
    body = {
        "top level": _write_at_top_level,
        "loop body": _write_in_a_loop,
        "branch": _write_in_a_branch,
    }[where](str(marker))
    _hostile_saved_model(tmp_path / "hostile", body)
    serve = tf.saved_model.load(str(tmp_path / "hostile")).signatures["serving_default"]
    serve(token_ids=tf.constant(np.zeros((1, 3), np.int32)))
    assert marker.read_text() == "written"


@pytest.mark.slow
def test_the_allowlist_covers_every_kashgari_model_class_and_bert():
    from kashgari_mlflow._graph_ops import ALLOWED_OPS
    from tests._op_allowlist import exported_ops

    assert exported_ops() <= ALLOWED_OPS
