"""The ``kashgari`` MLflow flavor: save, log and load Kashgari NER and classification models.

A model saved by this flavor is a folder with:

* ``data/``: exactly what Kashgari's ``model.save`` writes
  (``model_config.json`` and two HDF5 weight files), which
  :func:`load_model` reads back as the original Kashgari class;
* ``serving/``: the network's inference graph as a TensorFlow SavedModel
  (token ids in, label ids or probabilities out, the CRF's Viterbi decoding
  inside) and ``vocabulary.json`` (token ids, labels), which is all the
  ``python_function`` loader reads: it needs TensorFlow and MLflow only, for
  every embedding, BERT included;
* ``code/kashgari_mlflow/``: this package's own source, so the
  ``python_function`` loader imports in any environment that has TensorFlow
  and MLflow, whether or not kashgari-mlflow is installed there;
* ``MLmodel`` with two flavors: ``kashgari`` (native, :func:`load_model`) and
  ``python_function`` (``mlflow.pyfunc.load_model``; NER models answer
  tokens, tags and entity spans, classification models a label and every
  label's probability);
* ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml`` that install
  with plain pip: TensorFlow and MLflow, pinned to the versions the model was
  saved with. Kashgari is not listed because its stale pins make it
  uninstallable by a resolver; the pyfunc does not need it.

Requirements are never inferred: MLflow's inference starts a subprocess that
loads the model (about 13 s with TensorFlow) and would list ``kashgari``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from kashgari_mlflow._compat import import_kashgari, package_version, task_of
from kashgari_mlflow._entities import SCHEMES, Scheme
from kashgari_mlflow._environment import get_default_conda_env as get_default_conda_env
from kashgari_mlflow._environment import (
    get_default_pip_requirements as get_default_pip_requirements,
)
from kashgari_mlflow._environment import write_environment_files
from kashgari_mlflow._layout import (
    DATA_SUBPATH,
    FORMAT_VERSION,
    SERVING_SUBPATH,
    bundled_package_source,
    check_format_version,
    default_signature,
    own_version,
    required_files,
)
from kashgari_mlflow._layout import FLAVOR_NAME as FLAVOR_NAME

_PYFUNC_LOADER = "kashgari_mlflow.flavor"


def save_model(
    kash_model: Any,
    path: str,
    *,
    tokenizer: str | Callable[[str], Sequence[str]] = "auto",
    scheme: Scheme = "default",
    conda_env: Any = None,
    code_paths: list[str] | None = None,
    mlflow_model: Any = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save a trained Kashgari labeling (NER) or classification model as an MLflow model folder.

    Args:
        kash_model: A trained (built) Kashgari model, e.g. ``BiLSTM_CRF_Model`` from
            ``kashgari.tasks.labeling`` or ``BiLSTM_Model`` from ``kashgari.tasks.classification``.
        path: Folder to create; it must not exist or be empty.
        tokenizer: How ``predict`` splits raw strings: ``"auto"`` (default: ``"char"``
            when the model's vocabulary is character-level, such as Chinese, else
            ``"whitespace"``), ``"whitespace"``, ``"char"`` (one token per character),
            or a function ``str -> list[str]`` defined in a module you pass in
            ``code_paths``. The choice is recorded in the MLmodel file.
        scheme: How tags form entities: ``"default"`` (lenient, like Kashgari),
            ``"IOB2"`` or ``"IOBES"`` (strict).
        conda_env: A conda environment (dict or YAML path) replacing the default.
        code_paths: Files or folders of your code the model needs (custom
            tokenizers, Kashgari subclasses).
        mlflow_model: The :class:`mlflow.models.Model` to add the flavors to.
        signature: Model signature; by default one whose params are ``batch_size``
            and ``output`` (NER) or ``threshold`` (classification) and whose input is
            left free (strings or ragged token lists).
        input_example: An input example to save with the model.
        pip_requirements: Requirements replacing the defaults.
        extra_pip_requirements: Requirements added to the defaults.
        metadata: Free-form metadata stored in the MLmodel file.
        **kwargs: Accepted for compatibility with ``mlflow.models.Model.log``.

    Raises:
        TypeError: If ``kash_model`` is not a Kashgari labeling or classification model.
        ValueError: If the model was never built (not fitted), or an argument is invalid.

    Warns:
        TokenizerWarning: If ``tokenizer="whitespace"`` is given for a model whose
            vocabulary is character-level.
    """
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.models.utils import _save_example
    from mlflow.utils.environment import (
        _CONDA_ENV_FILE_NAME,
        _PYTHON_ENV_FILE_NAME,
        _validate_env_arguments,
    )
    from mlflow.utils.model_utils import (
        _validate_and_copy_code_paths,
        _validate_and_prepare_target_save_path,
    )

    from kashgari_mlflow._networks import write_serving_files
    from kashgari_mlflow._redaction import Redactor, redacted_example
    from kashgari_mlflow._tokenizer_choice import choose_tokenizer, vocabulary_tokens

    task = task_of(kash_model)
    if getattr(kash_model, "tf_model", None) is None:
        raise ValueError(
            f"This {type(kash_model).__name__} has no network yet: call fit() (or "
            "build_model()) before saving it."
        )
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown scheme {scheme!r}: use one of {', '.join(SCHEMES)}.")
    recorded_tokenizer = choose_tokenizer(
        tokenizer,
        lambda: vocabulary_tokens(kash_model),
        "the tokens in the model's vocabulary",
        from_vocabulary=True,
    )
    _validate_env_arguments(conda_env, pip_requirements, extra_pip_requirements)

    path = os.path.abspath(path)
    _validate_and_prepare_target_save_path(path)
    import_kashgari(reason="saving a Kashgari model")
    kash_model.save(os.path.join(path, DATA_SUBPATH))
    write_serving_files(kash_model, task, os.path.join(path, SERVING_SUBPATH))

    with tempfile.TemporaryDirectory() as workdir:
        bundled = [bundled_package_source(workdir), *(code_paths or [])]
        code_subpath = _validate_and_copy_code_paths(bundled, path)

    if mlflow_model is None:
        mlflow_model = Model()
    # Examples are often validation sentences, which can hold a secret from the environment.
    _save_example(mlflow_model, redacted_example(Redactor(), input_example), path)
    mlflow_model.signature = signature if signature is not None else default_signature(task)
    if metadata is not None:
        mlflow_model.metadata = metadata

    mlflow.pyfunc.add_to_model(
        mlflow_model,
        loader_module=_PYFUNC_LOADER,
        data=DATA_SUBPATH,
        code=code_subpath,
        conda_env=_CONDA_ENV_FILE_NAME,
        python_env=_PYTHON_ENV_FILE_NAME,
    )
    mlflow_model.add_flavor(
        FLAVOR_NAME,
        format_version=FORMAT_VERSION,
        kashgari_version=package_version("kashgari"),
        tensorflow_version=package_version("tensorflow"),
        kashgari_mlflow_version=own_version(),
        data=DATA_SUBPATH,
        serving=SERVING_SUBPATH,
        code=code_subpath,
        task=task,
        model_class=f"{type(kash_model).__module__}.{type(kash_model).__name__}",
        tokenizer=recorded_tokenizer,
        scheme=scheme,
    )
    mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

    write_environment_files(path, conda_env, pip_requirements, extra_pip_requirements)


def log_model(
    kash_model: Any,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> Any:
    """Log a Kashgari labeling or classification model to the active (or given) MLflow run.

    Args:
        kash_model: A trained Kashgari labeling or classification model.
        name: Name of the logged model within the run (``runs:/<id>/<name>``).
        registered_model_name: Also register it under this name in the Model Registry,
            once every file of the model is uploaded and found in the artifact store;
            an upload that fails or is interrupted registers nothing.
        run_id: Run to log to; defaults to the active run (one is started if none is).
        **kwargs: Any argument of :func:`save_model` (``tokenizer``, ``scheme``,
            ``code_paths``, ``signature``, ``input_example``, ``pip_requirements``...)
            and of :meth:`mlflow.models.Model.log` (``params``, ``tags``, ``step``...).

    Returns:
        The :class:`mlflow.models.model.ModelInfo` of the logged model.

    Raises:
        kashgari_mlflow._registry.IncompleteModelError: If files of the model are
            missing or empty in the artifact store after the upload (nothing is
            registered and the logged model is marked ``FAILED``).

    Example:
        >>> import kashgari_mlflow
        >>> info = kashgari_mlflow.log_model(model, "model")  # doctest: +SKIP
        >>> pyfunc = mlflow.pyfunc.load_model(info.model_uri)  # doctest: +SKIP
        >>> pyfunc.predict(["John lives in Paris"])  # doctest: +SKIP
    """
    import sys

    from mlflow.models import Model

    from kashgari_mlflow._compat import model_log_name_kwargs
    from kashgari_mlflow._context_redaction import redacted_context_tags, warn_model_secrets
    from kashgari_mlflow._redaction import Redactor
    from kashgari_mlflow._registry import DEFAULT_AWAIT_REGISTRATION_SECONDS, log_then_register

    await_registration_for = kwargs.pop(
        "await_registration_for", DEFAULT_AWAIT_REGISTRATION_SECONDS
    )
    redactor = Redactor()
    if kwargs.get("params"):
        kwargs["params"] = redactor.mapping(kwargs["params"], "params")
    tags = redactor.mapping(kwargs.pop("tags", None) or {}, "tags") or None
    if kwargs.get("metadata"):
        kwargs["metadata"] = redactor.scrub(kwargs["metadata"], "the model's metadata")
    if redactor:
        warn_model_secrets(redactor, kash_model.to_dict(), f"{DATA_SUBPATH}/model_config.json")
    model_tags = {**redacted_context_tags(redactor, tags or {}), **(tags or {})} or None

    # Registration waits until every file is uploaded and checked (see _registry).
    return log_then_register(
        lambda: Model.log(
            **model_log_name_kwargs(Model.log, name),
            flavor=sys.modules[__name__],
            run_id=run_id,
            kash_model=kash_model,
            tags=model_tags,
            **kwargs,
        ),
        required_files(),
        registered_model_name,
        await_registration_for=await_registration_for,
        tags=tags,
    )


def load_model(
    model_uri: str,
    dst_path: str | None = None,
    *,
    allow_untrusted_classes: bool = False,
) -> Any:
    """Load a model logged with this flavor as the original Kashgari model class.

    Safe for a model folder from someone else: by default nothing named in its
    files is imported unless it is a class defined inside the installed Kashgari,
    the model's ``code/`` folder is not put on ``sys.path``, Keras ``Lambda``
    layers and layers from other modules are refused, and the weights files are
    checked (no links or storage outside them, shapes as the network declares)
    before they are read. See the security page of the documentation.

    Args:
        model_uri: ``runs:/<run_id>/model``, ``models:/<name>@<alias>``, a local path...
        dst_path: Local folder to download the model to (a temporary one by default).
        allow_untrusted_classes: Also load classes from outside Kashgari, such as a
            Kashgari subclass shipped in the model's ``code_paths``: the model's
            ``code/`` folder goes on ``sys.path`` and the classes' modules are
            imported, which runs them. Only for models from a source you trust.

    Returns:
        The Kashgari model (e.g. a ``BiLSTM_CRF_Model``), ready to ``predict``.

    Raises:
        kashgari_mlflow._loading.ModelFilesError: If a model file is missing or damaged,
            or the model is refused as unsafe (the message says why).
        ImportError: If Kashgari is not installed.
    """
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri
    from mlflow.utils.model_utils import _get_flavor_configuration

    from kashgari_mlflow._loading import (
        ModelFilesError,
        diagnose_load_failure,
        load_kashgari_model,
        read_model_config,
    )
    from kashgari_mlflow._safety.classes import resolve_classes
    from kashgari_mlflow._safety.model_folder import (
        check_shipped_code,
        code_on_sys_path,
        path_inside,
    )

    local_path = _download_artifact_from_uri(artifact_uri=model_uri, output_path=dst_path)
    flavor_conf = _get_flavor_configuration(model_path=local_path, flavor_name=FLAVOR_NAME)
    check_format_version(flavor_conf)
    data_dir = path_inside(local_path, flavor_conf.get("data", DATA_SUBPATH), "data")
    config = read_model_config(data_dir)
    import_kashgari(reason="kashgari_mlflow.load_model returns a Kashgari model")
    shipped_code: Any = contextlib.nullcontext()
    if allow_untrusted_classes and flavor_conf.get("code"):
        code_dir = path_inside(local_path, flavor_conf["code"], "code")
        check_shipped_code(code_dir)
        shipped_code = code_on_sys_path(code_dir)
    with shipped_code:
        classes = resolve_classes(config, allow_untrusted=allow_untrusted_classes)
        try:
            return load_kashgari_model(data_dir, config, classes)
        except ModelFilesError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise diagnose_load_failure(data_dir, err) from err


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> Any:
    """MLflow's pyfunc entry point: ``path`` is the model's ``data`` folder.

    Every model of this flavor names ``kashgari_mlflow.flavor`` as its
    ``loader_module``: this function stays here and forwards.
    """
    from kashgari_mlflow._pyfunc_loader import load_pyfunc

    return load_pyfunc(path)
