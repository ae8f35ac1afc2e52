"""Tokenizers saved with a model, so raw strings are split as they were in training.

A tokenizer is recorded in the MLmodel file by name: ``"whitespace"``,
``"char"`` (one token per non-space character, for Chinese and similar
scripts), or ``"module:function"`` for a callable of the user's, shipped with
the model through ``code_paths``. ``"auto"`` is decided before saving (see
:mod:`kashgari_mlflow._tokenizer_choice`) and never recorded.

Token lists become text by one rule, :func:`join_tokens` with the tokenizer's
:func:`token_joiner`: one space between tokens, except for ``"char"``, which
puts nothing between characters (``["新", "华", "社"]`` reads "新华社") and one
space only between two words of Latin letters or digits (``["在", "New",
"York"]`` reads "在New York").
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

WHITESPACE = "whitespace"
CHARACTER = "char"
_NON_SPACE = re.compile(r"\S+")


class Token(NamedTuple):
    """A token and where it sits in the original string (``text[start:end]``).

    A named tuple: a predict makes one per token of its input, and a tuple is
    made in about half the time a frozen dataclass takes.
    """

    text: str
    start: int
    end: int


TokenizeFn = Callable[[str], list[Token]]
#: What goes between two adjacent tokens (left, right) when a token list becomes text.
Joiner = Callable[[str, str], str]

# Scripts whose NER corpora are tagged character by character: Han, kana, hangul,
# Thai, Lao, Khmer, Myanmar, Tibetan, and the full-width punctuation, digits and
# letters that appear inside Chinese and Japanese text.
_CHARACTER_SCRIPT_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation ("。", "、")
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width punctuation, digits and letters; half-width katakana
    (0x20000, 0x3134F),  # CJK extensions B-G
)


def is_character_script(character: str) -> bool:
    """Whether ``character`` belongs to a script whose corpora are tagged per character."""
    code = ord(character)
    return any(low <= code <= high for low, high in _CHARACTER_SCRIPT_RANGES)


def token_joiner(tokenizer: str) -> Joiner:
    """What goes between two tokens when token lists become text, for a ``tokenizer`` name."""
    return _between_characters if tokenizer == CHARACTER else _between_words


def join_tokens(tokens: Sequence[str], joiner: Joiner) -> str:
    """A token list as text: the tokens with ``joiner``'s separator between each pair."""
    parts: list[str] = []
    for position, token in enumerate(tokens):
        if position:
            parts.append(joiner(tokens[position - 1], token))
        parts.append(token)
    return "".join(parts)


def _between_words(left: str, right: str) -> str:
    return " "


def _between_characters(left: str, right: str) -> str:
    """Nothing between characters; one space between two words such as "New" and "York".

    Character-level corpora keep Latin words and numbers as whole tokens among
    single characters; written without a space, two of them would run together.
    """
    return " " if _is_spaced_word(left) and _is_spaced_word(right) else ""


def _is_spaced_word(token: str) -> bool:
    """A word of two or more characters whose ends are letters or digits of a spaced script."""
    return len(token) > 1 and all(
        end.isalnum() and not is_character_script(end) for end in (token[0], token[-1])
    )


def whitespace_tokenize(text: str) -> list[Token]:
    """Split on any run of whitespace (spaces, tabs, newlines, NBSP...)."""
    return [Token(m.group(), m.start(), m.end()) for m in _NON_SPACE.finditer(text)]


def char_tokenize(text: str) -> list[Token]:
    """One token per character, whitespace dropped: ``"张三 在"`` gives 张, 三, 在."""
    return [Token(ch, i, i + 1) for i, ch in enumerate(text) if not ch.isspace()]


def align_tokens(text: str, tokens: Sequence[str]) -> list[Token]:
    """Locate each token in ``text`` in order, for tokenizers that return plain strings.

    Raises:
        ValueError: If a token does not occur in the text after the previous one.
    """
    aligned: list[Token] = []
    cursor = 0
    for token in tokens:
        start = text.find(token, cursor)
        if start < 0:
            raise ValueError(
                f"The tokenizer returned {token!r}, which is not in the input text after "
                f"offset {cursor}; a custom tokenizer must return substrings of its input, "
                "in order."
            )
        aligned.append(Token(token, start, start + len(token)))
        cursor = start + len(token)
    return aligned


def tokenizer_name(tokenizer: str | Callable[[str], Sequence[str]]) -> str:
    """The name under which ``tokenizer`` is recorded in the MLmodel file.

    Raises:
        ValueError: If ``tokenizer`` is an unknown name or a callable that cannot
            be imported by name (a lambda or a nested function).
    """
    if isinstance(tokenizer, str):
        if tokenizer in (WHITESPACE, CHARACTER) or _is_import_path(tokenizer):
            return tokenizer
        raise ValueError(
            f"Unknown tokenizer {tokenizer!r}: use 'whitespace', 'char', a 'module:function' "
            "path, or a function defined at the top level of a module."
        )
    module = getattr(tokenizer, "__module__", None)
    qualname = getattr(tokenizer, "__qualname__", "")
    if not callable(tokenizer) or not module or "<" in qualname or module == "__main__":
        raise ValueError(
            f"Tokenizer {tokenizer!r} cannot be saved by name: define it at the top level of a "
            "module file and pass that file in code_paths (functions from __main__, lambdas "
            "and nested functions cannot be re-imported when the model is loaded)."
        )
    return f"{module}:{qualname}"


def resolve_tokenizer(name: str, code_dir: str | None = None) -> TokenizeFn:
    """Turn a recorded tokenizer name back into a function returning :class:`Token` lists.

    ``"whitespace"`` and ``"char"`` are built in. A ``module:function`` name is
    imported only when the module is a file inside the model's own ``code/``
    folder and the function is defined in that module: the name comes from the
    MLmodel file, and ``os:system`` would run every request as a shell command.

    Args:
        name: The name recorded in the MLmodel file.
        code_dir: The model's ``code/`` folder (absolute), or None if it has none.

    Raises:
        ValueError: If the name is unknown, lies outside the model's code, or the
            function cannot be imported.
    """
    if name == WHITESPACE:
        return whitespace_tokenize
    if name == CHARACTER:
        return char_tokenize
    if not _is_import_path(name):
        raise ValueError(f"Unknown tokenizer {name!r} in the MLmodel file.")
    module_name, _, attribute = name.partition(":")
    from kashgari_mlflow._loading import ModelFilesError

    shipped = _shipped_module_file(module_name, code_dir) if code_dir else None
    if code_dir is None or shipped is None:
        raise ModelFilesError(
            f"The model's tokenizer {name!r} is not a module shipped in the model's own code "
            "folder (code_paths); it is refused, since importing it could run any code."
        )
    try:
        module = _import_shipped(module_name, shipped, code_dir)
        target: object = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ModelFilesError(
            f"The model's tokenizer {name!r} cannot be imported ({err}); log the model with "
            "the tokenizer's file in code_paths."
        ) from err
    if not _inside(getattr(module, "__file__", None), code_dir) or (
        getattr(target, "__module__", None) != module.__name__
    ):
        raise ModelFilesError(
            f"The model's tokenizer {name!r} is not a function defined in the model's own code "
            "folder; it is refused."
        )
    user_function = target
    if not callable(user_function):
        raise ValueError(f"The model's tokenizer {name!r} is not callable.")

    def tokenize(text: str) -> list[Token]:
        return align_tokens(text, [str(token) for token in user_function(text)])

    return tokenize


def _shipped_module_file(module_name: str, code_dir: str) -> str | None:
    """The file ``module_name`` has inside ``code_dir``, found without importing anything."""
    parts = module_name.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    base = Path(code_dir, *parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file() and _inside(str(candidate), code_dir):
            return str(candidate)
    return None


def _import_shipped(module_name: str, file: str, code_dir: str) -> ModuleType:
    """The shipped module: imported by name, unless that name is taken by a module elsewhere.

    A process that saved the model with its own copy of the tokenizer module (the
    usual test before logging) has that copy under the name; the shipped file is
    then run under a private name, so the function served is the one shipped.
    """
    loaded = sys.modules.get(module_name.split(".")[0])
    if loaded is None or _inside(getattr(loaded, "__file__", None), code_dir):
        return importlib.import_module(module_name)
    private_name = f"_kashgari_mlflow_shipped_{module_name.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(private_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"{file} cannot be loaded as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private_name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def _inside(path: str | None, folder: str) -> bool:
    return bool(path) and Path(str(path)).resolve().is_relative_to(Path(folder).resolve())


def _is_import_path(name: str) -> bool:
    module, sep, attribute = name.partition(":")
    return bool(sep and module and attribute)
