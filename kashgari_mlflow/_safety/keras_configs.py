"""Walk a Keras config before Keras sees it: no Lambda, no layer from foreign code, sane sizes.

Keras' ``model_from_json`` imports the ``module`` a layer (or an activation,
initializer, regularizer...) names and takes the attribute it names from it;
its safe mode stops bytecode lambdas only, not a ``Lambda`` whose
``function_type`` is ``"function"`` (STACK_NOTES). So every dict anywhere in
the config is checked, not only the top-level layers: Bidirectional and
TimeDistributed keep their inner layer under ``layer``, and Functional or
Sequential models can sit inside one another.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any, NoReturn

from kashgari_mlflow._loading import ModelFilesError
from kashgari_mlflow._safety.limits import MAX_CONFIG_DEPTH, MAX_WEIGHT_BYTES, SIZE_KEYS

#: Packages whose layers a Kashgari model is built from: Keras and TensorFlow,
#: Kashgari's own layers (its CRF), tensorflow-addons' CRF that Kashgari's
#: wraps, bert4keras (transformer embeddings) and this package's CRF.
TRUSTED_LAYER_PACKAGES = frozenset(
    {"keras", "tensorflow", "kashgari", "tensorflow_addons", "bert4keras", "kashgari_mlflow"}
)
#: Layers that run a function or an op named in the config: ``Lambda`` (bytecode
#: or an importable function); the op wrappers Keras records for raw TensorFlow
#: calls, which can name any TensorFlow function (``io.write_file`` too);
#: ``TensorFlowOpLayer``, which builds any op from a ``node_def`` (``WriteFile``,
#: ``ReadFile``, ``DebugIdentity`` writing to a chosen path); and the wrappers
#: that call a method or property named in the config. Kashgari's labeling and
#: classification networks use none of them.
REFUSED_LAYERS = frozenset(
    {
        "Lambda",
        "TFOpLambda",
        "SlicingOpLambda",
        "TensorFlowOpLayer",
        "InstanceMethod",
        "InstanceProperty",
        "ClassMethod",
    }
)
#: Values Keras' config decoder turns into objects: ``__tuple__`` is a plain tuple,
#: ``__numpy__`` an array (Kashgari's CRF keeps its transitions as one); tensors,
#: type specs and lambdas are refused.
ALLOWED_SPECIAL_CLASSES = frozenset({"__tuple__", "__numpy__"})
#: Dtypes a ``__numpy__`` value may declare. Its values are already parsed JSON, so
#: a numeric array costs a few times the file's size; a dtype such as
#: ``S2000000000`` would make every element two gigabytes.
NUMPY_DTYPES = frozenset(
    {"bool", "float16", "float32", "float64", "int8", "int16", "int32", "int64"}
    | {"uint8", "uint16", "uint32", "uint64"}
)
#: Config keys of preprocessing layers that may name a file to read
#: (``StringLookup``, ``IntegerLookup``, ``TextVectorization``).
FILE_KEYS = ("vocabulary", "idf_weights")


def keras_configs(model_config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every Keras model config inside a parsed ``model_config.json``, with where it sits."""
    yield "tf_model", model_config.get("tf_model")
    embedding = model_config.get("embedding")
    if isinstance(embedding, dict) and "embed_model" in embedding:
        yield "embedding.embed_model", embedding["embed_model"]


def check_keras_config(config: Any, where: str) -> None:
    """Refuse a Keras config that would run code or allocate beyond the limits.

    Args:
        config: A Keras model config (what ``model.to_json()`` holds), as parsed JSON.
        where: Where it sits, for the error message (``"tf_model"``).

    Raises:
        ModelFilesError: Naming the layer and the reason: a ``Lambda`` layer, a
            module outside :data:`TRUSTED_LAYER_PACKAGES`, or a size over its limit.
    """
    for path, node in _dicts(config, where, depth=0):
        class_name = node.get("class_name")
        if _names_refused_layer(node) or _names_a_function(node):
            _refuse(
                path,
                "is a Lambda-type layer or op wrapper: it would run a function or op named "
                "in the file",
            )
        if (
            isinstance(class_name, str)
            and class_name.startswith("__")
            and class_name not in ALLOWED_SPECIAL_CLASSES
        ):
            _refuse(path, f"holds a {class_name!r} value, which Keras would decode into an object")
        if class_name == "__numpy__":
            inner = node.get("config")
            dtype = inner.get("dtype") if isinstance(inner, dict) else None
            if dtype not in NUMPY_DTYPES:
                _refuse(path, f"holds a '__numpy__' array of dtype {dtype!r}, not numbers")
        for key in FILE_KEYS:
            if isinstance(node.get(key), str):
                _refuse(path, f"names a file in {key!r}, which Keras would read")
        for key in ("module", "output_shape_module"):
            module = node.get(key)
            if module == "builtins" and _is_registered_function(node):
                continue
            if module is not None and str(module).split(".")[0] not in TRUSTED_LAYER_PACKAGES:
                _refuse(
                    path,
                    f"names {class_name!r} from module {module!r}, outside Keras, TensorFlow "
                    "and Kashgari: Keras would import and run it",
                )
        _check_sizes(path, node)


def _dicts(node: Any, path: str, depth: int) -> Iterator[tuple[str, dict[str, Any]]]:
    if depth > MAX_CONFIG_DEPTH:
        _refuse(path, f"nests deeper than {MAX_CONFIG_DEPTH} levels; it is not a Keras config")
    if isinstance(node, dict):
        inner = node.get("config")
        if "class_name" in node and isinstance(inner, dict) and "name" in inner:
            path = f"{path} > {node['class_name']} {inner['name']!r}"
        yield path, node
        for value in node.values():
            yield from _dicts(value, path, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _dicts(item, path, depth + 1)


def _names_refused_layer(node: dict[str, Any]) -> bool:
    names = (node.get("class_name"), node.get("registered_name"))
    # Registered names look like "Package>Name"; the last part is the class.
    return any(isinstance(n, str) and n.split(">")[-1] in REFUSED_LAYERS for n in names)


def _is_registered_function(node: dict[str, Any]) -> bool:
    """A function Keras serialised as ``module: "builtins"``: one it finds by name.

    Keras 2.15 writes functions registered as custom objects (bert4keras' ``gelu_erf``
    activation in every BERT layer) with the module ``"builtins"``, and looks the
    name up among the custom objects first, then in the ``builtins`` module. A name
    the ``builtins`` module has (``exec``, ``open``, ``__import__``) would be taken
    from there, and is refused; any other name must be a registered function.
    """
    name = node.get("config")
    return (
        node.get("class_name") == "function"
        and isinstance(name, str)
        and name.isidentifier()
        and not hasattr(builtins, name)
    )


def _names_a_function(node: dict[str, Any]) -> bool:
    """Whether ``node`` names a function to run.

    Lambda's ``function_type``, or another ``*_type`` key set to ``"lambda"`` or
    ``"function"`` (the ``residual_fn_type`` of cell wrappers).
    """
    return "function_type" in node or any(
        isinstance(key, str) and key.endswith("_type") and value in ("lambda", "function")
        for key, value in node.items()
    )


def _check_sizes(path: str, node: dict[str, Any]) -> None:
    for key, limit in SIZE_KEYS.items():
        value = node.get(key)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None:
                continue
            # Keras calls int() on what it reads: "40000000" and 4e7 are sizes too.
            if not isinstance(item, int) or isinstance(item, bool):
                _refuse(path, f"declares {key}={item!r}, which is not a whole number")
            if item > limit:
                _refuse(path, f"declares {key}={item:,}, over the limit of {limit:,}")
    rows, columns = node.get("input_dim"), node.get("output_dim")
    if isinstance(rows, int) and isinstance(columns, int) and rows * columns * 4 > MAX_WEIGHT_BYTES:
        _refuse(
            path,
            f"declares an embedding of {rows:,} x {columns:,} floats, over the limit of "
            f"{MAX_WEIGHT_BYTES:,} bytes",
        )


def _refuse(path: str, reason: str) -> NoReturn:
    raise ModelFilesError(f"model_config.json: {path} {reason}. The model is refused.")
