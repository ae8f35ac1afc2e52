"""Refuse a SavedModel whose graph holds ops the exported Kashgari graphs never use.

A SavedModel is a program: from someone else's folder it can read or write
files (``ReadFile``, ``WriteFile``, ``MatchingFiles``, ``SaveV2``), print to a
file or call Python (``PyFunc``) as soon as it predicts, or while it loads
(resource initialisers). :func:`check_saved_model_ops` parses
``saved_model.pb`` before TensorFlow loads it and refuses any op outside
:data:`ALLOWED_OPS` and :data:`HYPER_PARAMETER_OPS`. Checkpoint ops are allowed
only in the save and restore functions TensorFlow writes into every SavedModel
(named by its ``saver_def``), and only if nothing else calls those functions:
``tf.saved_model.load`` restores the variables itself and never runs them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from kashgari_mlflow._loading import ModelFilesError

SAVED_MODEL_FILE = "saved_model.pb"

#: Every op in the inference graphs that ``export_saved_model`` wrote for each
#: Kashgari 2.0.2 labeling and classification class on a Bare embedding, a
#: multi-label classifier and BERT (TransformerEmbedding) labeling and
#: classification models, with TensorFlow 2.15: ``python -m tests._op_allowlist``
#: prints it and ``tests/test_serving_graph.py`` checks it still covers them.
#: It also keeps the ops of graphs written before LSTM and GRU layers were
#: exported as their plain cell loop (the cuDNN kernels and the gradient
#: functions Keras added), so those models still load. No op here touches
#: files, the network or Python; the bodies of ``While`` and ``If`` are checked
#: like any other function.
ALLOWED_OPS = frozenset(
    {
        "AddN", "AddV2", "All", "Any", "ArgMax", "BatchMatMulV2", "BiasAdd", "BiasAddGrad",
        "BroadcastArgs", "BroadcastGradientArgs", "BroadcastTo", "Cast", "ConcatOffset",
        "ConcatV2", "Const", "Conv2D", "CudnnRNN", "CudnnRNNBackprop", "CudnnRNNBackpropV3",
        "CudnnRNNV3", "DivNoNan", "Einsum", "EmptyTensorList", "Equal", "Erf", "ExpandDims",
        "Fill", "FloorMod", "GatherNd", "GatherV2", "Identity", "If", "InvertPermutation",
        "Less", "LogicalAnd", "LogicalNot", "MatMul", "Max", "MaxPool", "Maximum", "Mean",
        "Mul", "Neg", "NoOp", "NotEqual", "OneHot", "OnesLike", "OptionalFromValue",
        "OptionalGetValue", "OptionalNone", "Pack", "PartitionedCall", "Placeholder", "Prod",
        "Range", "ReadVariableOp", "RealDiv", "Relu", "Reshape", "ResourceGather",
        "ReverseSequence", "ReverseV2", "SelectV2", "Shape", "Sigmoid", "SigmoidGrad", "Slice",
        "Softmax", "Split", "SplitV", "Sqrt", "Square", "Squeeze", "StatefulPartitionedCall",
        "StatelessWhile", "StridedSlice", "StridedSliceGrad", "Sub", "Sum", "Tanh", "TanhGrad",
        "TensorListElementShape", "TensorListFromTensor", "TensorListGetItem",
        "TensorListLength", "TensorListPopBack", "TensorListPushBack", "TensorListReserve",
        "TensorListSetItem", "TensorListStack", "Tile", "Transpose", "Unpack", "VarHandleOp",
        "While", "ZerosLike",
    }
)  # fmt: skip

#: The ops that other hyper-parameters than Kashgari's defaults add, none of
#: them touching files, the network or Python. Kashgari passes its
#: hyper-parameters to its Keras layers, so a model trained with, say,
#: ``{"layer_blstm": {"recurrent_activation": "hard_sigmoid"}}``,
#: ``{"dense_layer": {"activation": "selu"}}`` or
#: ``{"conv1d_layer": {"padding": "causal", "dilation_rate": 2}}`` exports them:
#: the ops of every activation Keras 2.15 resolves by name (its activation
#: functions and the class names of its activation layers; element-wise
#: arithmetic and comparisons), and the padding (``Pad``) and dilation
#: (``SpaceToBatchND``, ``BatchToSpaceND``: a reshuffle of the time steps) of a
#: convolution. ``tests/test_serving_graph.py`` traces every such activation and
#: exports models with these options.
HYPER_PARAMETER_OPS = frozenset(
    {
        "BatchToSpaceND", "Elu", "Exp", "Greater", "IdentityN", "LeakyRelu", "LogSoftmax",
        "Minimum", "Pad", "Relu6", "Selu", "Softplus", "Softsign", "SpaceToBatchND",
    }
)  # fmt: skip

#: What ``tf.saved_model.save`` puts in its own checkpoint save and restore
#: functions (they read and write the ``variables/`` checkpoint).
CHECKPOINT_OPS = frozenset(
    {
        "AssignVariableOp", "DisableCopyOnRead", "MergeV2Checkpoints", "RestoreV2", "SaveV2",
        "Select", "ShardedFilename", "StaticRegexFullMatch", "StringJoin",
    }
)  # fmt: skip


def read_saved_model(saved_model_pb: str) -> Any:
    """Parse a ``saved_model.pb`` file into its ``SavedModel`` proto.

    Raises:
        ModelFilesError: If the file is missing or is not a SavedModel proto.
    """
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        with open(saved_model_pb, "rb") as handle:
            proto.ParseFromString(handle.read())
    except FileNotFoundError as err:
        raise ModelFilesError(
            f"{saved_model_pb} is missing: the model folder is incomplete."
        ) from err
    except DecodeError as err:
        raise ModelFilesError(
            f"{saved_model_pb} is not a SavedModel ({err}); the file is truncated or corrupted."
        ) from err
    return proto


def graph_ops(saved_model_pb: str) -> set[str]:
    """Ops a SavedModel can run, outside its own checkpoint save/restore functions."""
    ops: set[str] = set()
    for meta_graph in read_saved_model(saved_model_pb).meta_graphs:
        ops |= _ops_by_reach(meta_graph)[0]
    return ops


def check_saved_model_ops(saved_model_dir: str) -> None:
    """Refuse a SavedModel that holds an op outside the allowlists.

    Args:
        saved_model_dir: A folder holding ``saved_model.pb``.

    Raises:
        ModelFilesError: Naming the first refused op and where it sits.
    """
    path = os.path.join(saved_model_dir, SAVED_MODEL_FILE)
    meta_graphs = list(read_saved_model(path).meta_graphs)
    # tf.saved_model.load takes its TF2 path only for exactly one graph with an object
    # graph (tensorflow/python/saved_model/load.py); any other file goes to the TF1
    # loader, which runs the file's own saver_def restore op while loading.
    if len(meta_graphs) != 1 or not meta_graphs[0].HasField("object_graph_def"):
        raise ModelFilesError(
            f"{path} is not a TensorFlow 2 SavedModel with one graph (it has "
            f"{len(meta_graphs)} graph(s) and no object graph): TensorFlow would load it "
            "with its TF1 loader, which runs the file's own restore op. The model was not "
            "saved by kashgari_mlflow or was altered; it is not loaded."
        )
    for meta_graph in meta_graphs:
        ops, checkpoint_ops = _ops_by_reach(meta_graph)
        allowed = ALLOWED_OPS | HYPER_PARAMETER_OPS
        refused = sorted(ops - allowed) or sorted(checkpoint_ops - allowed - CHECKPOINT_OPS)
        if refused:
            raise ModelFilesError(
                f"{path} holds the op(s) {refused}, which no graph exported by kashgari_mlflow "
                "uses (they may read or write files or run code). The model was not saved by "
                "kashgari_mlflow or was altered; it is not loaded."
            )


def _ops_by_reach(meta_graph: Any) -> tuple[set[str], set[str]]:
    """(ops anything may run, ops only the checkpoint save/restore functions run)."""
    library = {
        function.signature.name: function for function in meta_graph.graph_def.library.function
    }
    gradients = {
        gradient.function_name: gradient.gradient_func
        for gradient in meta_graph.graph_def.library.gradient
    }
    saver = meta_graph.saver_def
    saver_nodes = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]} - {""}
    main_nodes = list(meta_graph.graph_def.node)

    saver_roots = _called(node for node in main_nodes if node.name in saver_nodes)
    other_roots = _called(node for node in main_nodes if node.name not in saver_nodes)
    other_roots |= set(meta_graph.object_graph_def.concrete_functions)
    saver_reach = _closure(saver_roots, library, gradients)
    # A function nothing names might still be called by name at load: count it as reachable.
    other_roots |= set(library) - saver_reach
    other_reach = _closure(other_roots, library, gradients)

    ops = _op_names((node for node in main_nodes if node.name not in saver_nodes), library)
    for name in other_reach:
        ops |= _op_names(library[name].node_def, library)
    checkpoint_ops = _op_names((node for node in main_nodes if node.name in saver_nodes), library)
    for name in saver_reach - other_reach:
        checkpoint_ops |= _op_names(library[name].node_def, library)
    return ops, checkpoint_ops


def _called(nodes: Iterable[Any]) -> set[str]:
    """Names of the functions these nodes call (by op type or through a function attr)."""
    names: set[str] = set()
    for node in nodes:
        names.add(node.op)
        for attr in node.attr.values():
            if attr.HasField("func"):
                names.add(attr.func.name)
            names.update(function.name for function in attr.list.func)
    return names


def _closure(roots: set[str], library: dict[str, Any], gradients: dict[str, str]) -> set[str]:
    reached: set[str] = set()
    pending = [name for name in roots if name in library]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        callees = _called(library[name].node_def)
        if name in gradients:
            callees.add(gradients[name])
        pending.extend(callee for callee in callees if callee in library and callee not in reached)
    return reached


def _op_names(nodes: Iterable[Any], library: dict[str, Any]) -> set[str]:
    """Op types of these nodes; a call of a library function by name is not an op."""
    return {node.op for node in nodes if node.op not in library}
