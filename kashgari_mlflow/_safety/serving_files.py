"""Checks on a format 2 model's ``serving/`` folder before any of it is read.

The pyfunc reads ``vocabulary.json`` and hands ``saved_model/`` to TensorFlow,
which allocates every variable at the shape the checkpoint index declares.
Every file must stay inside the folder (no link out of it), the two files
parsed whole must be of a sane size, and the variables the index declares must
fit :data:`MAX_WEIGHT_BYTES`, all read from metadata only.
"""

from __future__ import annotations

import math
import os

from kashgari_mlflow._loading import ModelFilesError
from kashgari_mlflow._safety import limits
from kashgari_mlflow._safety.model_folder import file_inside


def check_serving_files(serving_dir: str, vocabulary_file: str, saved_model_subpath: str) -> None:
    """Refuse links out of ``serving_dir``, oversized files and oversized declared variables.

    Raises:
        ModelFilesError: Naming the file and what is wrong with it.
    """
    for folder, _, names in os.walk(serving_dir):
        for name in names:
            file_inside(serving_dir, os.path.relpath(os.path.join(folder, name), serving_dir))
    saved_model_dir = os.path.join(serving_dir, saved_model_subpath)
    for path in (
        os.path.join(serving_dir, vocabulary_file),
        os.path.join(saved_model_dir, "saved_model.pb"),
    ):
        if os.path.isfile(path) and os.path.getsize(path) > limits.MAX_CONFIG_BYTES:
            raise ModelFilesError(
                f"{path} is {os.path.getsize(path):,} bytes, over the {limits.MAX_CONFIG_BYTES:,} "
                "a model of this flavor can hold. The model is refused."
            )
    _check_declared_variables(os.path.join(saved_model_dir, "variables", "variables"))


def _check_declared_variables(prefix: str) -> None:
    if not os.path.isfile(prefix + ".index"):
        return  # TensorFlow says what is missing when it loads
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)  # reads the index, not the data
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except (tf.errors.OpError, ValueError) as err:
        raise ModelFilesError(f"{prefix}.index is not a checkpoint index ({err}).") from err
    declared = sum(
        math.prod(shape) * max(getattr(dtypes.get(name), "size", 1), 1)
        for name, shape in shapes.items()
    )
    if declared > limits.MAX_WEIGHT_BYTES:
        raise ModelFilesError(
            f"{prefix}.index declares {declared:,} bytes of variables, over the "
            f"{limits.MAX_WEIGHT_BYTES:,} a model of this flavor can hold. The model is refused."
        )
