"""The inference graph of a Kashgari network: token ids in, label ids or probabilities out.

One ``tf.function`` with an unknown batch and length serves three callers:
the callback's per-epoch evaluation and the pyfunc of an old-format model
(both on a live Keras network), and :func:`export_saved_model`, which writes
the same graph as a TensorFlow SavedModel. A saved model's pyfunc then runs
that SavedModel with TensorFlow alone: the CRF's Viterbi decoding and any
transformer layers are already plain TensorFlow ops in it.

Segment ids (transformer embeddings) are not an input: Kashgari always feeds
zeros for a single sentence, so the graph makes them itself.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Name of the one input of the graph and of its ``serving_default`` signature.
TOKEN_IDS = "token_ids"
#: Output of a labeling graph: ``int32 (batch, length)``, one label id per position.
LABEL_IDS = "label_ids"
#: Output of a classification graph: ``float32 (batch, labels)``.
PROBABILITIES = "probabilities"
SIGNATURE_KEY = "serving_default"

#: Kashgari model -> (its network, task, segment, traced function): the callback's
#: per-epoch evaluation and ``save_model`` share one trace (seconds for a BiLSTM-CRF).
#: The value does not reference the key, so the entry dies with the Kashgari model.
_TRACED: weakref.WeakKeyDictionary[Any, tuple[Any, str, bool, Any]] = weakref.WeakKeyDictionary()


def inference_function(tf_model: Any, task: str, segment: bool) -> Any:
    """The network plus its decoding as one graph, traced once for every batch shape.

    Keras' ``predict_on_batch`` traces its graph again for new batch shapes
    (seconds each); an input signature with unknown batch and length
    dimensions is traced once.

    Args:
        tf_model: The Keras network Kashgari built (``kash_model.tf_model``).
        task: ``"labeling"`` (argmax label ids) or ``"classification"`` (probabilities).
        segment: Whether the network takes segment ids as a second input.

    Returns:
        A ``tf.function`` of ``token_ids`` returning a dict with ``label_ids``
        or ``probabilities``.
    """
    import tensorflow as tf

    spec = tf.TensorSpec([None, None], tf.int32, name=TOKEN_IDS)

    def serve(token_ids: Any) -> dict[str, Any]:
        # This body runs only while TensorFlow traces the function.
        network_input = [token_ids, tf.zeros_like(token_ids)] if segment else token_ids
        with plain_recurrent_loops(tf_model):
            scores = tf_model(network_input, training=False)
        if task == "classification":
            return {PROBABILITIES: tf.cast(scores, tf.float32)}
        # Kashgari's CRF answers one-hot Viterbi paths, other heads softmax scores:
        # the argmax is the tag either way.
        return {LABEL_IDS: tf.argmax(scores, axis=-1, output_type=tf.int32)}

    return tf.function(serve, input_signature=[spec], autograph=needs_autograph(tf_model))


#: Packages whose layers branch on Python values only: AutoGraph finds nothing to
#: convert in them (TensorFlow and Keras code it never converts anyway).
PLAIN_LAYER_PACKAGES = frozenset(
    {"keras", "tensorflow", "tf_keras", "kashgari", "bert4keras", "tensorflow_addons",
     "kashgari_mlflow"}
)  # fmt: skip


def needs_autograph(tf_model: Any) -> bool:
    """Whether a layer of ``tf_model`` comes from outside :data:`PLAIN_LAYER_PACKAGES`.

    Tracing converts each layer's ``call`` with AutoGraph, and for the layers of
    Kashgari, bert4keras and tensorflow-addons that conversion changes nothing
    while it takes half of the trace (0.47-0.50 s against 0.23-0.31 s for a
    WNUT-17 BiLSTM-CRF in a fresh process here, the same ops either way). A layer
    of the user's own may branch on a tensor's value (``if tf.reduce_sum(x) > 0``),
    which only AutoGraph can trace: a network holding one keeps it.
    """
    for layer in tf_model._flatten_layers(include_self=True, recursive=True):
        package = (type(layer).__module__ or "").partition(".")[0]
        if package not in PLAIN_LAYER_PACKAGES:
            return True
    return False


@contextmanager
def plain_recurrent_loops(tf_model: Any) -> Iterator[None]:
    """Trace Keras' LSTM and GRU layers of ``tf_model`` as their plain cell loop.

    Traced in a graph, these layers otherwise build two implementations (the
    cuDNN kernel and the loop) plus the gradient functions of both, for
    TensorFlow to pick one when the graph runs: about 1.4 s of a BiLSTM-CRF's
    first evaluation here, and ops no inference needs in the SavedModel. Both
    implementations compute the same step (``LSTMCell``/``GRUCell`` with the
    layer's own weights, activations and masking), so the answers are the same.

    Only layers that would take the two-implementation path are switched, and
    only while the context lasts: training, traced by Keras, is untouched.
    """
    # Keras' own walk over nested layers (Bidirectional's two directions included).
    # ``tf.Module.submodules`` would also walk every attribute, and a layer with
    # dropout holds a cache of masks that cannot be walked inside a trace.
    layers = [
        layer
        for layer in tf_model._flatten_layers(include_self=False, recursive=True)
        if getattr(layer, "_could_use_gpu_kernel", None) is True
    ]
    for layer in layers:
        layer._could_use_gpu_kernel = False
    try:
        yield
    finally:
        for layer in layers:
            layer._could_use_gpu_kernel = True


def kashgari_inference_function(kash_model: Any, task: str, segment: bool) -> Any:
    """:func:`inference_function` of a live Kashgari model, traced once while its network lasts."""
    tf_model = kash_model.tf_model
    cached = _TRACED.get(kash_model)
    if cached is not None and cached[0] is tf_model and cached[1:3] == (task, segment):
        return cached[3]
    function = inference_function(tf_model, task, segment)
    _TRACED[kash_model] = (tf_model, task, segment, function)
    return function


def export_saved_model(function: Any, weights: list[Any], path: str) -> None:
    """Write an :func:`inference_function` as a SavedModel folder at ``path``.

    Only the graph and the variables it reads are saved, not the Keras model:
    no Keras config, no custom layer classes, nothing that needs Kashgari,
    bert4keras or tensorflow-addons to load.

    Args:
        function: What :func:`inference_function` returned.
        weights: Every variable of the network (``tf_model.weights``).
        path: Folder to write.
    """
    import tensorflow as tf

    root = tf.Module()
    # The variables must hang off the saved object; the Keras model must not,
    # or tf.saved_model.save would serialise its layers (and their classes) too.
    root.weights = list(weights)
    # Gradients are never needed to serve; leaving them out saved about a quarter
    # of tf.saved_model.save's time for a BiLSTM-CRF here (2.6 s instead of 3.3-4.3 s
    # on a busy 2-core machine).
    options = tf.saved_model.SaveOptions(experimental_custom_gradients=False)
    # Under tf.config.run_functions_eagerly(True), a debugging switch users turn on,
    # the written graph reaches checkpoint and assignment ops (SaveV2, RestoreV2,
    # AssignVariableOp) that the loader's op check refuses: export in graph mode.
    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(False)
    try:
        signatures = {SIGNATURE_KEY: function.get_concrete_function()}
        tf.saved_model.save(root, path, signatures=signatures, options=options)
    finally:
        tf.config.run_functions_eagerly(was_eager)


def load_serving_function(path: str) -> Any:
    """Load an exported SavedModel and return its ``serving_default`` function.

    Call :func:`kashgari_mlflow._graph_ops.check_saved_model_ops` first: loading
    a SavedModel from someone else can run file I/O ops at inference time.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(os.path.abspath(path))
    signature = loaded.signatures[SIGNATURE_KEY]

    def serve(token_ids: Any) -> dict[str, Any]:
        return dict(signature(**{TOKEN_IDS: tf.constant(token_ids, tf.int32)}))

    # The loaded object owns the variables: keep it alive as long as the function.
    serve.saved_model = loaded  # type: ignore[attr-defined]
    return serve
