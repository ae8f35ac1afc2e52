"""Keep credentials out of runs: redact secrets from params, tags, run names and run text.

The rules, applied to everything the callback writes to a run:

* the **value of an environment variable whose name looks like a credential**
  (``MY_API_TOKEN``, ``MLFLOW_TRACKING_PASSWORD``, ``AWS_SECRET_ACCESS_KEY``...)
  never appears: wherever it occurs inside a value it becomes ``***`` (inside a
  key, ``REDACTED``, since MLflow keys cannot hold ``*``). Values shorter than
  :data:`MIN_SECRET_LENGTH` are not treated as secrets: ``PRIVATE_MODE=1`` must
  not blank every ``1`` in a run.
* a value **under a key that looks like a credential** (a tag ``api_key``, a
  param ``...access_token``) becomes ``***``, unless it is a number, a boolean or
  empty. Inside nested dicts (a model config artifact) the key's last word
  decides, so ``hyper_parameters.db.password`` is masked and Kashgari's
  ``token_pad`` is not;
* the **password of any URL with userinfo** (``https://user:pw@host``,
  ``postgresql://u:p@h/db``), anywhere in a text, becomes ``***``.

A name looks like a credential when one of its words (split on anything but
letters and digits, case-insensitive) contains ``SECRET``, ``PASSWORD``,
``PASSWD``, ``PASSPHRASE``, ``CREDENTIAL``, ``PRIVATE`` or ``COOKIE``; ends in
``TOKEN``, ``TOKENS``, ``KEY`` or ``KEYS`` (``APITOKEN``, ``APIKEY``); or is
``PASS``, ``AUTH``, ``OAUTH`` or ``AUTHORIZATION``. Not credentials, on
purpose: ``PWD`` (the working directory), ``AUTHOR`` (``GIT_AUTHOR_NAME``) and
``TOKENIZER``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

MASK = "***"
#: Replaces a secret inside a key: MLflow keys allow only ``\w - . space / :``.
KEY_MASK = "REDACTED"
#: Shorter environment values are not secrets worth hiding (flags, ports, ``true``).
MIN_SECRET_LENGTH = 6

_WORD_SPLIT = re.compile(r"[^A-Z0-9]+")
_CONTAINED = ("SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "PRIVATE", "COOKIE")
_ENDINGS = ("TOKEN", "TOKENS", "KEY", "KEYS")
_WHOLE = frozenset({"PASS", "AUTH", "OAUTH", "AUTHORIZATION"})
_HARMLESS_VALUES = frozenset({"", "none", "null", "true", "false"})
#: ``scheme://user:password@``: the password runs to the last ``@`` of the
#: authority (an unencoded ``@`` in it is common in hand-written URLs).
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)(?P<password>[^\s/?#]+)@"
)


def is_credential_name(name: str) -> bool:
    """Whether an environment variable, param or tag name looks like it holds a credential.

    Args:
        name: A name such as ``MY_API_TOKEN``, ``api_key`` or ``hyper_parameters.x.secret``.

    Returns:
        True for credential-like names (see the module docstring for the rule).
    """
    for word in _WORD_SPLIT.split(name.upper()):
        if not word:
            continue
        if word in _WHOLE or word.endswith(_ENDINGS):
            return True
        if any(part in word for part in _CONTAINED):
            return True
    return False


def _last_word_is_credential(key: str) -> bool:
    words = [word for word in _WORD_SPLIT.split(key.upper()) if word]
    return bool(words) and is_credential_name(words[-1])


def _is_harmless(value: str) -> bool:
    text = value.strip()
    if text.lower() in _HARMLESS_VALUES:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


class Redactor:
    """Replace the values of credential-like environment variables, as read now.

    Args:
        environ: Environment to read (``os.environ`` by default).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        source = os.environ if environ is None else environ
        secrets: dict[str, str] = {}
        for name, value in source.items():
            secret = value.strip()
            if len(secret) >= MIN_SECRET_LENGTH and is_credential_name(name):
                secrets.setdefault(secret, name)
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(secrets.items(), key=lambda item: -len(item[0]))

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def sources(self, text: str) -> list[str]:
        """Names of the environment variables whose values occur in ``text``."""
        return sorted({name for secret, name in self._secrets if secret in text})

    def text(self, text: str, mask: str = MASK) -> str:
        """``text`` with every secret value and URL password replaced by ``mask``."""
        for secret, _ in self._secrets:
            if secret in text:
                text = text.replace(secret, mask)
        if "://" in text:
            text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{mask}@", text)
        return text

    def html(self, page: str, mask: str = MASK) -> str:
        """An HTML page with every secret masked, written as it is or HTML-escaped."""
        import html

        for secret, _ in self._secrets:
            for form in {html.escape(secret), html.escape(secret, quote=False)}:
                if form != secret and form in page:
                    page = page.replace(form, mask)
        return self.text(page, mask)

    def key(self, key: str) -> str:
        """A param, tag or metric key with secret values replaced by :data:`KEY_MASK`."""
        return self.text(key, KEY_MASK)

    def value(self, key: str, value: str) -> str:
        """A param or tag value: ``***`` under a credential-like key, else secrets masked."""
        if is_credential_name(key) and not _is_harmless(value):
            return MASK
        return self.text(value)

    def obj(self, value: Any) -> Any:
        """A JSON-like object (dicts, lists, strings) with secret values masked in keys and strings.

        A string under a key whose last word looks like a credential (``password``,
        ``db_api_key``) becomes ``***``; the last word decides because in
        Kashgari's configs names such as ``token_pad`` are not credentials.
        """
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                (self.text(key) if isinstance(key, str) else key): (
                    _masked(inner)
                    if isinstance(key, str) and _last_word_is_credential(key)
                    else self.obj(inner)
                )
                for key, inner in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.obj(inner) for inner in value]
        return value

    def scrub(self, value: Any, where: str) -> Any:
        """:meth:`obj` (or :meth:`text` for a string), warning once if ``where`` held a secret.

        Args:
            value: Text or a JSON-like object about to be logged.
            where: What it is, for the warning (``"artifact kashgari/labels.json"``).

        Returns:
            The redacted value.
        """
        redacted = self.obj(value)
        if redacted != value:
            warn_redacted(where, [], self.sources("\n".join(_strings(value))), place=True)
        return redacted

    def find(self, value: Any, path: str = "") -> list[tuple[str, str]]:
        """Where secrets occur in a JSON-like object: ``(dotted path, variable name)`` pairs.

        Paths are redacted themselves, so they can be shown.
        """
        found: list[tuple[str, str]] = []
        if isinstance(value, str):
            found += [(self.key(path), name) for name in self.sources(value)]
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                inner_path = f"{path}.{key}" if path else str(key)
                found += [(self.key(inner_path), name) for name in self.sources(str(key))]
                found += self.find(inner, inner_path)
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value):
                found += self.find(inner, f"{path}[{index}]")
        return found

    def mapping(
        self, items: Mapping[str, Any], kind: str, stringify: Callable[[Any], str] = str
    ) -> dict[str, str]:
        """Redact the keys and values of params or tags; warn about the keys that changed.

        Args:
            items: Keys and values (values are turned into strings by ``stringify``).
            kind: ``"params"`` or ``"tags"``, for the warning.
            stringify: How a value becomes the string MLflow stores.

        Returns:
            The redacted mapping, values as strings.
        """
        redacted: dict[str, str] = {}
        changed: list[str] = []
        sources: set[str] = set()
        by_key = False
        for raw_key, raw_value in items.items():
            original = stringify(raw_value)
            key = self.key(raw_key)
            value = self.value(raw_key, stringify(self.obj(raw_value)))
            if (key, value) != (raw_key, original):
                changed.append(key)
                found = self.sources(f"{raw_key}\n{original}\n{raw_value}")
                sources.update(found)
                by_key = by_key or not found
            redacted[key] = value
        warn_redacted(kind, changed, sources, by_key=by_key)
        return redacted


def _masked(value: Any) -> Any:
    """Every string inside ``value`` as ``***``, except harmless ones (numbers, flags, empty)."""
    if isinstance(value, str):
        return value if _is_harmless(value) else MASK
    if isinstance(value, Mapping):
        return {key: _masked(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(inner) for inner in value]
    return value


def redacted_example(redactor: Redactor, example: Any) -> Any:
    """A model's input example with secrets masked; DataFrames cell by cell.

    Args:
        redactor: Knows the secret values.
        example: What ``save_model`` got as ``input_example``.

    Returns:
        The example, redacted; other types (arrays...) unchanged.
    """
    import pandas as pd  # an MLflow dependency

    if isinstance(example, pd.DataFrame):
        redacted_frame = example.map(redactor.obj)
        if not redacted_frame.equals(example):
            sources = redactor.sources(example.to_string())
            warn_redacted("the input example", [], sources, place=True)
        return redacted_frame
    if isinstance(example, str | Mapping | list | tuple):
        return redactor.scrub(example, "the input example")
    return example


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings(key)
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)


def warn_redacted(
    kind: str,
    keys: Iterable[str],
    sources: Iterable[str],
    *,
    by_key: bool = False,
    place: bool = False,
) -> None:
    """Say which ``keys`` were redacted and why, never what they held.

    Args:
        kind: What was redacted (``"params"``, ``"tags"``, ``"artifact kashgari/labels.json"``).
        keys: The keys that changed.
        sources: Names of the environment variables whose values were found.
        by_key: Some values were masked because their key looks like a credential.
        place: ``kind`` names one place (an artifact, the run name), not a kind of keys.
    """
    keys = sorted(keys)
    if not keys and not place:
        return
    reasons = []
    if sources:
        reasons.append(f"values of the environment variable(s) {', '.join(sorted(sources))}")
    if by_key:
        reasons.append("values under credential-like keys")
    why = " and ".join(reasons) or "secret values"
    what = kind if place else f"{kind} {keys}"
    warnings.warn(
        f"Redacted {what} before logging: {why} were replaced by {MASK!r}.",
        UserWarning,
        stacklevel=3,
    )
