"""Version shims and guarded imports for Kashgari, TensorFlow and MLflow."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALL_HINT = (
    "pip install tensorflow==2.15.1 tensorflow-addons==0.23.0 'gensim>=4.3' && "
    "pip install --no-deps kashgari==2.0.2 bert4keras==0.11.5"
)


def import_kashgari(reason: str = "kashgari_mlflow needs it") -> ModuleType:
    """Import Kashgari, or fail with the command that installs it.

    Args:
        reason: Why Kashgari is needed, shown in the error.

    Raises:
        ImportError: If Kashgari (or TensorFlow under it) cannot be imported.
    """
    try:
        module = importlib.import_module("kashgari")
    except ImportError as err:
        raise ImportError(
            f"Kashgari could not be imported ({err}); {reason}. Install it with: {INSTALL_HINT}"
        ) from err
    _quiet_kashgari_logger(module)
    support_gensim4()
    return module


def support_gensim4() -> None:
    """Give gensim 4's ``KeyedVectors`` the gensim 3 names Kashgari's ``WordEmbedding`` reads.

    Kashgari 2.0.2 reads ``KeyedVectors.index2word`` and ``index2entity``, which
    gensim 4 (the only gensim with wheels for Python 3.11) replaced by
    ``index_to_key`` and turned into errors. Both become read-only aliases of
    ``index_to_key``. ``MlflowCallback``, ``autolog()`` and ``load_model`` call
    this; call it yourself before creating a ``WordEmbedding`` without them
    (``WordEmbedding`` reads its word2vec file as it is created). Importing
    ``kashgari_mlflow`` does not: it changes nothing in other libraries. A no-op
    without gensim or with gensim 3.
    """
    if importlib.util.find_spec("gensim") is None:
        return
    _alias_gensim3_names(importlib.import_module(_GENSIM_KEYED_VECTORS))


_GENSIM_KEYED_VECTORS = "gensim.models.keyedvectors"


def _alias_gensim3_names(keyedvectors: ModuleType) -> None:
    vectors_class = getattr(keyedvectors, "KeyedVectors", None)
    if vectors_class is None or getattr(vectors_class, "_kashgari_mlflow_gensim3_names", False):
        return
    version = str(getattr(sys.modules.get("gensim"), "__version__", "0"))
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) < 4:
        return
    index_to_key = property(lambda self: self.index_to_key)
    vectors_class.index2word = index_to_key
    vectors_class.index2entity = index_to_key
    vectors_class._kashgari_mlflow_gensim3_names = True


def _quiet_kashgari_logger(kashgari: ModuleType) -> None:
    # Kashgari builds its logger with logging.Logger (not getLogger, so logging
    # config never reaches it) at DEBUG, and logs whole arrays on every predict.
    # Only that default is changed; a level the user set is left alone.
    logger = getattr(getattr(kashgari, "logger", None), "logger", None)
    if isinstance(logger, logging.Logger) and logger.level == logging.DEBUG:
        logger.setLevel(logging.WARNING)


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None if it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def use_sqlite_store_by_default() -> None:
    """On MLflow 2, default to MLflow 3's store, ``sqlite:///mlflow.db``, not ``./mlruns``.

    Runs then land where the docs and ``mlflow ui --backend-store-uri
    sqlite:///mlflow.db`` look, whichever MLflow is installed. A tracking URI
    the user set (``MLFLOW_TRACKING_URI`` or ``mlflow.set_tracking_uri``) wins,
    and, as MLflow 3 does, an existing ``./mlruns`` holding experiments is kept.
    """
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    if int(mlflow.__version__.split(".")[0]) >= 3 or is_tracking_uri_set():  # type: ignore[no-untyped-call]
        return
    if any(Path("mlruns").glob("*/meta.yaml")):
        return
    mlflow.set_tracking_uri("sqlite:///mlflow.db")


def is_kashgari_task_model(obj: object) -> bool:
    """Whether ``obj`` looks like a Kashgari task model (without importing Kashgari)."""
    return all(
        hasattr(obj, attribute)
        for attribute in ("tf_model", "embedding", "text_processor", "label_processor")
    ) and callable(getattr(obj, "save", None))


def task_of(kash_model: object) -> str:
    """``"labeling"`` or ``"classification"`` for a Kashgari task model.

    Raises:
        TypeError: If the model is neither.
    """
    for cls in type(kash_model).__mro__:
        module = cls.__module__
        if module.startswith("kashgari.tasks.labeling"):
            return "labeling"
        if module.startswith("kashgari.tasks.classification"):
            return "classification"
    raise TypeError(
        f"{type(kash_model).__name__} is not a Kashgari labeling or classification model; "
        "kashgari_mlflow supports subclasses of kashgari.tasks.labeling.ABCLabelingModel "
        "and kashgari.tasks.classification.ABCClassificationModel."
    )


def model_log_name_kwargs(model_log: Callable[..., Any], name: str) -> dict[str, Any]:
    """How to name a logged model: ``name=`` on MLflow 3, ``artifact_path=`` on MLflow 2."""
    if "name" in inspect.signature(model_log).parameters:
        return {"artifact_path": None, "name": name}
    return {"artifact_path": name}


def model_log_step_kwargs(model_log: Callable[..., Any], step: int | None) -> dict[str, Any]:
    """Link a logged model to the metrics of ``step`` (MLflow 3); nothing on MLflow 2.

    MLflow 3's ``Model.log`` copies the run's metrics at ``step`` (default 0)
    onto the logged model, so a model logged without its epoch's step shows the
    first epoch's scores.
    """
    if step is None or "step" not in inspect.signature(model_log).parameters:
        return {}
    return {"step": step}


_RAW_JSON_KEYS = ("inputs", "instances")


def pass_raw_json_inputs(flavor_name: str) -> None:
    """Let MLflow's JSON parsing hand a ``flavor_name`` model its ``inputs`` as sent.

    With no input schema, MLflow's scoring server (``mlflow models serve``,
    ``mlflow models predict``, ``validate_serving_input``) turns ``{"inputs": x}``
    into ``np.array(x)``: ragged token lists fail with "inhomogeneous shape" and
    numbers inside token lists silently become strings. For models of this
    flavor only, ``inputs``/``instances`` reach ``predict`` as the JSON value
    itself, so the model can accept ragged lists and reject bad tokens with its
    own message. ``dataframe_split``/``dataframe_records`` and every other
    model keep MLflow's parsing.

    Only a process that serves a model patches the parser: one that has
    imported MLflow's scoring server (``mlflow models serve`` and ``predict``
    import it before they load the model, ``validate_serving_input`` too). In
    any other process, loading a model changes nothing in MLflow. A no-op, with
    a log line, if MLflow's private parser has changed shape.
    """
    scoring_server = sys.modules.get("mlflow.pyfunc.scoring_server")
    if scoring_server is None:
        return
    original = getattr(scoring_server, "_parse_json_data", None)
    parsed_type = getattr(scoring_server, "ParsedJsonInput", None)
    decode = getattr(scoring_server, "_decode_json_input", None)
    if not _parser_has_expected_shape(original, parsed_type, decode):
        logging.getLogger(__name__).warning(
            "MLflow's scoring-server parser is not the one kashgari_mlflow knows; ragged "
            "token lists in {'inputs': ...} requests may be refused by MLflow's own parsing."
        )
        return
    assert original is not None and parsed_type is not None and decode is not None
    if getattr(original, "_kashgari_mlflow_flavors", None) is not None:
        original._kashgari_mlflow_flavors.add(flavor_name)
        return
    flavors = {flavor_name}

    def parse_json_data(data: Any, metadata: Any, input_schema: Any) -> Any:
        own_model = input_schema is None and bool(
            flavors.intersection(getattr(metadata, "flavors", None) or {})
        )
        if own_model:
            try:
                payload = decode(data)
            except RecursionError as err:
                from mlflow.exceptions import MlflowException

                raise MlflowException.invalid_parameter_value(
                    "The request JSON is nested too deeply to parse; send sentences or "
                    "token lists (at most two levels of lists)."
                ) from err
            keys = set(payload) - {"params"} if isinstance(payload, dict) else set()
            if len(keys) == 1 and keys <= set(_RAW_JSON_KEYS):
                return parsed_type(payload[keys.pop()], payload.get("params"), False)
            data = payload
        return original(data, metadata, input_schema)

    parse_json_data._kashgari_mlflow_flavors = flavors  # type: ignore[attr-defined]
    parse_json_data.__wrapped__ = original  # type: ignore[attr-defined]
    scoring_server._parse_json_data = parse_json_data  # type: ignore[attr-defined]


def _parser_has_expected_shape(original: Any, parsed_type: Any, decode: Any) -> bool:
    """Whether MLflow's private parser is the one the wrapper was written against."""
    if original is None or parsed_type is None or not callable(decode):
        return False
    if getattr(original, "_kashgari_mlflow_flavors", None) is not None:
        return True  # our own wrapper, from an earlier load
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return False
    fields = getattr(parsed_type, "_fields", ())
    return parameters == ["data", "metadata", "input_schema"] and tuple(fields)[:2] == (
        "data",
        "params",
    )


def answer_missing_content_type() -> None:
    """Make MLflow's scoring server answer 415, not 500, to a request without Content-Type.

    ``scoring_server.invocations`` (MLflow 2 and 3) splits the header value
    with no check, so a bare ``POST /invocations`` raises AttributeError on
    ``None`` and the client gets an internal error. The server looks the
    function up on every request, so wrapping it here takes effect at once.
    Like :func:`pass_raw_json_inputs`, only in a process that has imported the
    scoring server, and a no-op if MLflow's private function has changed shape.
    """
    scoring_server = sys.modules.get("mlflow.pyfunc.scoring_server")
    if scoring_server is None:
        return
    original = getattr(scoring_server, "invocations", None)
    response_type = getattr(scoring_server, "InvocationsResponse", None)
    if original is None or response_type is None or hasattr(original, "_kashgari_mlflow"):
        return
    try:
        parameters = list(inspect.signature(original).parameters)
    except (TypeError, ValueError):
        return
    if parameters != ["data", "content_type", "model", "input_schema"]:
        return

    def invocations(data: Any, content_type: Any, model: Any, input_schema: Any) -> Any:
        if not content_type:
            return response_type(
                response="The request has no Content-Type header; send application/json "
                "(or text/csv).",
                status=415,
                mimetype="text/plain",
            )
        return original(data, content_type, model, input_schema)

    invocations._kashgari_mlflow = True  # type: ignore[attr-defined]
    invocations.__wrapped__ = original  # type: ignore[attr-defined]
    scoring_server.invocations = invocations  # type: ignore[attr-defined]
