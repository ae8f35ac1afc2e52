"""Read CoNLL-style NER files: one ``token<sep>tag`` per line, blank lines between sentences."""

from __future__ import annotations

import os
import re

# When ``str.split()`` leaves a line one column, only ASCII spaces and tabs separate
# columns: a character-level file (People's Daily style) may tag a Unicode space such
# as U+3000, the ideographic space of Chinese text, which ``str.split()`` drops.
_COLUMN_SEPARATOR = re.compile(r"[ \t]+")


class ConllFormatError(ValueError):
    """A line of a CoNLL file is not ``token`` + separator + ``tag``."""


def read_conll(
    path: str | os.PathLike[str], *, encoding: str = "utf-8"
) -> tuple[list[list[str]], list[list[str]]]:
    """Read sentences and their tags from a CoNLL file.

    Token and tag are separated by a tab or by spaces; when a line has more
    than two columns (CoNLL-2003 style), the first is the token and the last
    the tag. Sentences are separated by lines that are empty or hold only
    whitespace. ``-DOCSTART-`` lines are skipped. This reads the People's Daily
    corpus as it is distributed (one character and its tag per line).

    Args:
        path: The file to read.
        encoding: Its text encoding.

    Returns:
        ``(sentences, tags)``: two aligned lists of token lists and tag lists.

    Raises:
        FileNotFoundError: If the file does not exist.
        ConllFormatError: If a line has a token but no tag, naming the line.

    Example:
        >>> x, y = read_conll("train.conll")  # doctest: +SKIP
    """
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens: list[str] = []
    labels: list[str] = []
    with open(path, encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            columns = line.split()
            if len(columns) == 1 and line.strip(" \t\r\n"):
                columns = _COLUMN_SEPARATOR.split(line.strip(" \t\r\n"))
            if not columns:
                if tokens:
                    sentences.append(tokens)
                    tags.append(labels)
                    tokens, labels = [], []
                continue
            if columns[0] == "-DOCSTART-":
                continue
            if len(columns) < 2:
                raise ConllFormatError(
                    f"{path}:{number}: expected 'token<TAB>tag', got {line.rstrip()!r}; every "
                    "non-blank line needs a token and a tag separated by a tab or spaces."
                )
            tokens.append(columns[0])
            labels.append(columns[-1])
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    return sentences, tags
