"""MLflow's ``python_function`` entry point for models of the ``kashgari`` flavor.

Reads only what the model folder holds and this package allows: format 2
models load ``serving/`` with TensorFlow alone (no Kashgari, bert4keras or
tensorflow-addons), format 1 models rebuild the Keras network from Kashgari's
files after the checks of :mod:`kashgari_mlflow._safety`.
"""

from __future__ import annotations

import os
from typing import Any

from kashgari_mlflow._layout import (
    DATA_SUBPATH,
    FLAVOR_NAME,
    SERVING_SUBPATH,
    check_format_version,
)


def load_pyfunc(path: str) -> Any:
    """MLflow's pyfunc entry point: ``path`` is the model's ``data`` folder.

    Format 2 models load ``serving/`` with TensorFlow alone; format 1 models
    rebuild the Keras network from Kashgari's files in ``data/``.
    """
    from mlflow.models import Model
    from mlflow.models.model import MLMODEL_FILE_NAME

    from kashgari_mlflow._compat import answer_missing_content_type, pass_raw_json_inputs
    from kashgari_mlflow._loading import ModelFilesError
    from kashgari_mlflow._networks import read_kashgari_files, read_serving_files
    from kashgari_mlflow._safety.model_folder import path_inside
    from kashgari_mlflow._tokenizers import WHITESPACE, resolve_tokenizer

    pass_raw_json_inputs(FLAVOR_NAME)
    answer_missing_content_type()

    model_root = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(os.path.join(model_root, MLMODEL_FILE_NAME)):
        raise ModelFilesError(
            f"The data folder {path} has no MLmodel next to it: the MLmodel's data path "
            "leads outside the model folder. The model is refused."
        )
    flavors = Model.load(model_root).flavors
    flavor_conf: dict[str, Any] = flavors.get(FLAVOR_NAME, {})
    version = check_format_version(flavor_conf)
    code = flavor_conf.get("code")
    code_dir = path_inside(model_root, code, "code") if code else None
    tokenizer = str(flavor_conf.get("tokenizer", WHITESPACE))
    tokenize = resolve_tokenizer(tokenizer, code_dir)  # refused before the network is built
    task = "classification" if flavor_conf.get("task") == "classification" else "labeling"
    if version >= 2:
        serving = flavor_conf.get("serving", SERVING_SUBPATH)
        network = read_serving_files(path_inside(model_root, serving, "serving"), task)
    else:
        path = path_inside(model_root, flavors["python_function"].get("data", DATA_SUBPATH), "data")
        network = read_kashgari_files(path, task)
    if task == "classification":
        from kashgari_mlflow._classifier import Classifier, KashgariClassifierPyfunc

        return KashgariClassifierPyfunc(Classifier.from_network(network), tokenize, tokenizer)
    from kashgari_mlflow._pyfunc import KashgariNerPyfunc
    from kashgari_mlflow._tagger import Tagger

    scheme = flavor_conf.get("scheme", "default")
    return KashgariNerPyfunc(Tagger.from_network(network), tokenize, tokenizer, scheme)
