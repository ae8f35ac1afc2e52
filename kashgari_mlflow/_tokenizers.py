"""Tokenizers saved with a model, so raw strings are split as they were in training.

A tokenizer is recorded in the MLmodel file by name: ``"whitespace"``,
``"char"`` (one token per non-space character, for Chinese and similar
scripts), or ``"module:function"`` for a callable of the user's, shipped with
the model through ``code_paths``. ``"auto"`` is decided before saving (see
:mod:`kashgari_mlflow._tokenizer_choice`) and never recorded.

Token lists become text by one rule, :func:`token_joiner`: without spaces for
``"char"`` (so ``["新", "华", "社"]`` reads "新华社"), with one space otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

WHITESPACE = "whitespace"
CHARACTER = "char"
_NON_SPACE = re.compile(r"\S+")


@dataclass(frozen=True)
class Token:
    """A token and where it sits in the original string (``text[start:end]``)."""

    text: str
    start: int
    end: int


TokenizeFn = Callable[[str], list[Token]]


def token_joiner(tokenizer: str) -> str:
    """What goes between tokens when token lists are shown as text for a ``tokenizer`` name."""
    return "" if tokenizer == CHARACTER else " "


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
