"""What a model evaluation scores: sentences, gold tags and predicted tags, checked.

Evaluation data comes from outside (a DataFrame, a CoNLL file, a model's
answers). Each function here either returns aligned token and tag lists or
raises :class:`EvaluationInputError` saying what is wrong and where, before
any score is computed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

#: Column of the evaluation DataFrame holding each sentence's tokens.
TOKENS_COLUMN = "tokens"
#: Column holding the gold tags (``targets="tags"`` in ``mlflow.models.evaluate``).
TAGS_COLUMN = "tags"


class EvaluationInputError(ValueError):
    """The evaluation data or a model's answers cannot be scored; the message says why."""


def read_evaluation_data(data: Any) -> tuple[list[list[str]], list[list[str]]]:
    """Sentences and gold tags from a CoNLL file, an ``(x, y)`` pair, or a DataFrame.

    Args:
        data: A path to a CoNLL file (read with :func:`kashgari_mlflow.read_conll`),
            a pair ``(token lists, tag lists)``, or a pandas DataFrame with a
            ``tokens`` and a ``tags`` column.

    Raises:
        EvaluationInputError: If the data is of none of these forms or its
            sentences and tags do not line up.
        FileNotFoundError: If the path does not exist.
    """
    if isinstance(data, str | os.PathLike):
        return _read_file(os.fspath(data))
    if hasattr(data, "columns"):
        missing = [c for c in (TOKENS_COLUMN, TAGS_COLUMN) if c not in data.columns]
        if missing:
            raise EvaluationInputError(
                f"The evaluation DataFrame has no {' and no '.join(map(repr, missing))} column; "
                f"it has {list(map(str, data.columns))}. Put each sentence's token list in "
                f"'{TOKENS_COLUMN}' and its tag list in '{TAGS_COLUMN}'."
            )
        x = token_lists(_column(data, TOKENS_COLUMN), "tokens")
        return _some(x), aligned_tags(_column(data, TAGS_COLUMN), x, "gold tags")
    if isinstance(data, tuple | list) and len(data) == 2:
        x = token_lists(_rows(data[0], "tokens"), "tokens")
        return _some(x), aligned_tags(_rows(data[1], "gold tags"), x, "gold tags")
    raise EvaluationInputError(
        "Evaluation data must be a CoNLL file path, a pair (token lists, tag lists) or a "
        f"DataFrame with '{TOKENS_COLUMN}' and '{TAGS_COLUMN}' columns, not "
        f"{type(data).__name__}."
    )


def sentences_from_features(features: Any) -> list[list[str]]:
    """The token lists of ``mlflow.models.evaluate``'s feature DataFrame.

    The ``tokens`` column, or the only column there is.

    Raises:
        EvaluationInputError: If there is no such column, no sentence, or a row is
            not a token list.
    """
    if not hasattr(features, "columns"):
        raise EvaluationInputError(
            f"The evaluation data is a {type(features).__name__}; pass a DataFrame with a "
            f"'{TOKENS_COLUMN}' column of token lists and a column of tag lists (targets=)."
        )
    columns = [str(column) for column in features.columns]
    if columns.count(TOKENS_COLUMN) == 1:
        values = _column(features, TOKENS_COLUMN)
    elif len(columns) == 1:
        values = list(features.iloc[:, 0])
    else:
        raise EvaluationInputError(
            f"The evaluation data has the feature columns {columns}: name one column of "
            f"token lists '{TOKENS_COLUMN}' (gold tags go in the targets column)."
        )
    return _some(token_lists(values, "tokens"))


def token_lists(rows: Sequence[Any], what: str) -> list[list[str]]:
    """Each row as a list of strings (numpy arrays and tuples accepted).

    Raises:
        EvaluationInputError: Naming the first row that is not a list of strings.
    """
    result = []
    for index, row in enumerate(rows):
        values = row.tolist() if hasattr(row, "tolist") else row
        if isinstance(values, str) or not isinstance(values, list | tuple):
            raise EvaluationInputError(
                f"Row {index} of the {what} is {_describe(row)}, not a list of strings: the "
                "evaluation scores pre-tokenized sentences, one list of tokens per row."
            )
        if not all(isinstance(value, str) for value in values):
            wrong = next(value for value in values if not isinstance(value, str))
            raise EvaluationInputError(
                f"Row {index} of the {what} holds {_describe(wrong)}; every element must be a "
                "string."
            )
        result.append(list(values))
    return result


def aligned_tags(rows: Sequence[Any], x: Sequence[Sequence[str]], what: str) -> list[list[str]]:
    """Tag lists, one per sentence of ``x`` and as long as it.

    Raises:
        EvaluationInputError: If the counts differ, naming the first sentence that does.
    """
    if len(rows) != len(x):
        raise EvaluationInputError(
            f"There are {len(x)} sentences but {len(rows)} rows of {what}; pass one tag list "
            "per sentence."
        )
    tags = token_lists(rows, what)
    for index, (tokens, sentence_tags) in enumerate(zip(x, tags, strict=True)):
        if len(tokens) != len(sentence_tags):
            raise EvaluationInputError(
                f"Sentence {index} has {len(tokens)} tokens but {len(sentence_tags)} {what}: "
                f"{_describe(list(tokens))}."
            )
    return tags


def tags_from_answers(answers: Any, x: Sequence[Sequence[str]]) -> list[list[str]]:
    """The predicted tags in a model's answers, checked against the sentences.

    Accepts this flavor's answers (one dict with ``tags`` per sentence), a
    list of tag lists, or a DataFrame with a ``tags`` column.

    Raises:
        EvaluationInputError: If the answers hold no tags or do not line up with ``x``.
    """
    if hasattr(answers, "columns"):
        if [str(c) for c in answers.columns].count(TAGS_COLUMN) != 1:
            raise EvaluationInputError(
                f"The model answered a DataFrame without one '{TAGS_COLUMN}' column "
                f"({list(map(str, answers.columns))}); it must answer the tags of every token."
            )
        answers = _column(answers, TAGS_COLUMN)
    iterable = hasattr(answers, "__iter__") and not isinstance(answers, str | bytes | dict)
    rows = list(answers) if iterable else None
    if rows is None:
        raise EvaluationInputError(
            f"The model answered {_describe(answers)}; it must answer one entry per sentence."
        )
    if rows and any(isinstance(row, dict) for row in rows):
        lacking = [i for i, row in enumerate(rows) if TAGS_COLUMN not in _as_dict(row)]
        if lacking:
            wrong = lacking[0]
            raise EvaluationInputError(
                f"Answer {wrong} of the model has no 'tags': log the model with this flavor, "
                "or answer the tags of every token ({'tags': [...]} or a list of tag lists)."
            )
        rows = [row[TAGS_COLUMN] for row in rows]
    return aligned_tags(rows, x, "predicted tags")


def _as_dict(row: Any) -> dict[str, Any]:
    return row if isinstance(row, dict) else {}


def _read_file(path: str) -> tuple[list[list[str]], list[list[str]]]:
    from kashgari_mlflow._conll import read_conll

    try:
        x, y = read_conll(path)
    except UnicodeDecodeError as err:
        message = f"{path} is not UTF-8 text ({err.reason} at byte {err.start})."
        raise EvaluationInputError(message) from None
    except IsADirectoryError:
        raise EvaluationInputError(f"{path} is a folder; pass a CoNLL file.") from None
    if not x:
        raise EvaluationInputError(f"{path} holds no sentence to evaluate on.")
    return x, y


def _column(frame: Any, name: str) -> list[Any]:
    columns = [str(column) for column in frame.columns]
    if columns.count(name) != 1:
        raise EvaluationInputError(
            f"The evaluation DataFrame has {columns.count(name)} columns named '{name}'; "
            "it needs exactly one."
        )
    return list(frame[frame.columns[columns.index(name)]])


def _rows(value: Any, what: str) -> list[Any]:
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise EvaluationInputError(f"The {what} are {_describe(value)}, not a list of lists.")
    return list(value)


def _some(x: list[list[str]]) -> list[list[str]]:
    if not x:
        raise EvaluationInputError("The evaluation data holds no sentence.")
    return x


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"
