"""The ``python_function`` side of a Kashgari model: inputs in, entities out.

``predict`` accepts what people actually send a NER model:

* a string, or a list of strings (tokenized with the model's saved tokenizer);
* a list of token lists, ragged lengths allowed;
* a pandas DataFrame with a ``text`` or a ``tokens`` column (what MLflow's
  REST server builds from ``dataframe_split`` / ``dataframe_records``).

and returns one dict per input::

    {"text": "John lives in New York",
     "tokens": ["John", "lives", "in", "New", "York"],
     "tags": ["B-PER", "O", "O", "B-LOC", "I-LOC"],
     "entities": [{"type": "PER", "text": "John", "token_start": 0, "token_end": 1,
                   "char_start": 0, "char_end": 4}, ...]}

``token_end`` and ``char_end`` are exclusive. For pre-tokenized input,
``text`` is the tokens joined by the tokenizer's joiner (a space; for the
character tokenizer nothing, or a space between two Latin words) and the
offsets point into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from kashgari_mlflow._entities import Scheme, extract_spans
from kashgari_mlflow._gc_pause import collector_paused
from kashgari_mlflow._tagger import Tagger
from kashgari_mlflow._tokenizers import Joiner, Token, TokenizeFn, token_joiner

OUTPUTS = ("all", "entities", "tags")
DEFAULT_BATCH_SIZE = 64
MAX_BATCH_SIZE = 4096
#: Probability a label needs to be answered by a multi-label classifier.
DEFAULT_THRESHOLD = 0.5


class InvalidInputError(ValueError):
    """The model input or params are malformed; the message says how to fix them."""


@dataclass(frozen=True)
class Document:
    """One input sentence: its text and its tokens with offsets into that text."""

    text: str
    tokens: list[Token]


#: ``{"inputs": {"text": [...]}}`` is the deepest wrapping a client plausibly sends.
_MAX_DICT_WRAPPING = 2


def _invalid(message: str) -> Exception:
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover - mlflow is a hard dependency
        return InvalidInputError(message)
    # INVALID_PARAMETER_VALUE makes MLflow's scoring server answer HTTP 400.
    error: Exception = MlflowException.invalid_parameter_value(message)
    return error


def _is_text(value: Any) -> bool:
    return isinstance(value, str | np.str_)


def _as_list(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return value.tolist()
    return value


def _rows_from_frame(frame: Any) -> list[Any]:
    columns = [str(column) for column in frame.columns]
    for name in ("text", "tokens"):
        if columns.count(name) > 1:
            # frame[name] would be a DataFrame, whose iteration yields the column names.
            raise _invalid(
                f"The DataFrame has {columns.count(name)} columns named {name!r}; send one."
            )
        if name in columns:
            return [_as_list(value) for value in frame[frame.columns[columns.index(name)]]]
    if len(columns) == 1:
        return [_as_list(value) for value in frame.iloc[:, 0]]
    raise _invalid(
        f"The DataFrame has columns {columns}; send a 'text' column of sentences or a "
        "'tokens' column of token lists."
    )


def normalize_rows(model_input: Any, _wrapped: int = 0) -> list[Any]:
    """Flatten any supported input shape into a list of sentences or token lists.

    Raises:
        MlflowException: (HTTP 400 when served) if the input shape is not supported.
    """
    import pandas as pd

    if _wrapped > _MAX_DICT_WRAPPING:
        # Deeper wrapping is no input form we document, and unbounded it ends in RecursionError.
        raise _invalid(
            f"The input wraps dicts more than {_MAX_DICT_WRAPPING} deep; send "
            '{"text": [...]} or a plain list of sentences.'
        )
    if model_input is None:
        raise _invalid("The input is null: send a sentence, a list of sentences or token lists.")
    if _is_text(model_input):
        return [str(model_input)]
    if isinstance(model_input, pd.DataFrame):
        return _rows_from_frame(model_input)
    if isinstance(model_input, pd.Series):
        return [_as_list(value) for value in model_input]
    if isinstance(model_input, dict):
        for key in ("text", "tokens", "inputs", "instances"):
            if key in model_input:
                return normalize_rows(model_input[key], _wrapped + 1)
        raise _invalid(
            f"The input is a dict with keys {sorted(map(str, model_input))}; use a 'text' or "
            "'tokens' key, or send a plain list of sentences."
        )
    model_input = _as_list(model_input)
    if isinstance(model_input, list | tuple):
        return list(model_input)
    raise _invalid(
        f"Unsupported input of type {type(model_input).__name__}: send a string, a list of "
        "strings, a list of token lists, or a DataFrame with a 'text' or 'tokens' column."
    )


def to_documents(rows: Sequence[Any], tokenize: TokenizeFn, joiner: Joiner) -> list[Document]:
    """Tokenize raw sentences and check pre-tokenized ones.

    Raises:
        MlflowException: (HTTP 400 when served) naming the first bad row.
    """
    if len(rows) == 0:
        raise _invalid("The input is empty: send at least one sentence.")
    documents = []
    for index, row in enumerate(rows):
        row = _as_list(row)
        if _is_text(row):
            documents.append(Document(str(row), tokenize(str(row))))
        elif isinstance(row, list | tuple):
            documents.append(_pretokenized(index, row, joiner))
        else:
            raise _invalid(
                f"Input {index} is {_describe(row)}; each input must be a string or a list of "
                "string tokens."
            )
    return documents


def _pretokenized(index: int, row: Sequence[Any], joiner: Joiner) -> Document:
    # One pass over plain strings; a row with anything else is checked token by token.
    if all(type(token) is str and not token.isspace() and token for token in row):
        texts: list[str] = list(row)
    else:
        texts = _checked_tokens(index, row)
    if not texts:
        return Document("", [])
    separators = ["", *map(joiner, texts[:-1], texts[1:])]
    tokens: list[Token] = []
    cursor = 0
    for separator, text in zip(separators, texts, strict=True):
        start = cursor + len(separator)
        cursor = start + len(text)
        tokens.append(Token(text, start, cursor))
    return Document("".join(chain.from_iterable(zip(separators, texts, strict=True))), tokens)


def _checked_tokens(index: int, row: Sequence[Any]) -> list[str]:
    """``row``'s tokens as ``str``, or an error naming the first one that is not text."""
    texts = []
    for position, token in enumerate(row):
        if not _is_text(token):
            raise _invalid(
                f"Token {position} of input {index} is {_describe(token)}; tokens must be strings."
            )
        if not str(token).strip():
            raise _invalid(
                f"Token {position} of input {index} is empty or only whitespace; drop it "
                "before sending."
            )
        texts.append(str(token))
    return texts


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type(value).__name__} nested too deeply to show"
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


@dataclass(frozen=True)
class PredictParams:
    """The predict params of both pyfuncs, validated."""

    batch_size: int = DEFAULT_BATCH_SIZE
    output: str = "all"
    threshold: float = DEFAULT_THRESHOLD


def parse_params(params: dict[str, Any] | None) -> PredictParams:
    """Validate the predict params of the NER and the classification pyfunc alike.

    ``batch_size`` is an integer from 1 to ``MAX_BATCH_SIZE``; an integral
    float (``8.0``) or a string of digits (``"8"``) is read as that integer,
    ``8.5`` and ``True`` are refused. ``output`` (NER) is one of ``OUTPUTS``;
    ``threshold`` (multi-label classification) a number from 0 to 1. A param
    that is absent or null takes its default; others are ignored.

    Raises:
        MlflowException: (HTTP 400 when served) if a value is out of range.
    """
    params = params or {}
    batch_size = _integer(params.get("batch_size"), DEFAULT_BATCH_SIZE)
    if batch_size is None or not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise _invalid(
            f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, got "
            f"{params.get('batch_size')!r}."
        )
    output = params.get("output")
    output = "all" if output is None else output
    if output not in OUTPUTS:
        raise _invalid(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}.")
    threshold = params.get("threshold")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float | np.integer | np.floating)
        or not 0.0 <= float(threshold) <= 1.0
    ):
        raise _invalid(f"threshold must be a number from 0 to 1, got {threshold!r}.")
    return PredictParams(batch_size, str(output), float(threshold))


def _integer(value: Any, default: int) -> int | None:
    """``value`` as an int if it is exactly one, ``default`` if null, else None."""
    if value is None:
        return default
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class KashgariNerPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps for a Kashgari labeling model.

    Args:
        tagger: The network and vocabularies.
        tokenize: Splits raw strings into tokens with offsets.
        tokenizer_name: Name recorded in the MLmodel file.
        scheme: How tags form entities.
    """

    def __init__(
        self, tagger: Tagger, tokenize: TokenizeFn, tokenizer_name: str, scheme: Scheme
    ) -> None:
        self.tagger = tagger
        self.tokenize = tokenize
        self.tokenizer_name = tokenizer_name
        self.scheme = scheme
        self.joiner = token_joiner(tokenizer_name)

    def get_raw_model(self) -> Tagger:
        """The underlying :class:`Tagger` (MLflow's ``unwrap_python_model`` hook)."""
        return self.tagger

    def predict(
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Tag and extract entities; see the module docstring for input and output shapes."""
        parsed = parse_params(params)
        rows = normalize_rows(model_input)
        with collector_paused(len(rows)):
            documents = to_documents(rows, self.tokenize, self.joiner)
            tokens = [[token.text for token in document.tokens] for document in documents]
            tags = self.tagger.predict_tags(tokens, parsed.batch_size)
            return [
                self._answer(document, doc_tags, parsed.output)
                for document, doc_tags in zip(documents, tags, strict=True)
            ]

    def _answer(self, document: Document, tags: list[str], output: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"text": document.text}
        if output in ("all", "tags"):
            answer["tokens"] = [token.text for token in document.tokens]
            answer["tags"] = tags
        if output in ("all", "entities"):
            answer["entities"] = [
                self._entity(document, span.type, span.start, span.end)
                for span in extract_spans(tags, self.scheme)
            ]
        return answer

    @staticmethod
    def _entity(document: Document, entity_type: str, start: int, end: int) -> dict[str, Any]:
        char_start = document.tokens[start].start
        char_end = document.tokens[end - 1].end
        return {
            "type": entity_type,
            "text": document.text[char_start:char_end],
            "token_start": start,
            "token_end": end,
            "char_start": char_start,
            "char_end": char_end,
        }
