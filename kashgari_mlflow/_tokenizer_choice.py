"""``tokenizer="auto"``: pick the tokenizer saved with a model from the tokens it learned.

Chinese NER corpora such as People's Daily are tagged one character at a
time; a model trained on them must split raw strings into characters, or a
whole sentence reaches it as one unknown token and no entity is found. The
choice is made from the training tokens when the callback has them, else
from the model's vocabulary (Kashgari's text processor keeps the training
tokens in ``vocab2idx``). Data is character-level when almost every token is
one character and many of them belong to a script tagged character by
character (Chinese, Japanese, Korean, Thai...); otherwise ``whitespace``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kashgari_mlflow._tokenizers import (
    CHARACTER,
    WHITESPACE,
    is_character_script,
    tokenizer_name,
)

AUTO = "auto"

#: At most this share of tokens may be longer than one character in character-level
#: data: People's Daily keeps a few multi-character tokens (numbers, Latin words).
MAX_MULTI_CHARACTER_SHARE = 0.1
#: At least this share of tokens must be one character of a character-tagged script.
#: Chinese corpora run far above it even with digits, punctuation and Latin letters
#: mixed in; English data, whose one-character tokens are "a", "I" and punctuation,
#: has none.
MIN_SCRIPT_SHARE = 0.3
#: From a vocabulary (each token once, however often it occurs), at least this share
#: of its entries must be one character of a character-tagged script. Latin words
#: and word pieces fill a good part of a Chinese BERT vocabulary, so the share of
#: multi-character entries says nothing there; one-character Han entries still make
#: up most of it, against a few percent in English and under a quarter in
#: multilingual vocabularies.
MIN_VOCABULARY_SCRIPT_SHARE = 0.5
#: Tokens looked at; enough for a stable share, and a large corpus is not walked twice.
SAMPLE_SIZE = 200_000

#: Kashgari's and BERT's reserved vocabulary entries, which are not training tokens.
_SPECIAL_TOKENS = frozenset(
    {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[BOS]", "[EOS]", "[MASK]", "<PAD>", "<UNK>"}
)

_logger = logging.getLogger(__name__)


class TokenizerWarning(UserWarning):
    """The tokenizer given explicitly does not fit the data the model was trained on.

    Filter it with ``warnings.filterwarnings("ignore", category=kashgari_mlflow.TokenizerWarning)``.
    """


@dataclass(frozen=True)
class TokenizerDecision:
    """What ``tokenizer="auto"`` picks, and the counts it picked from.

    Attributes:
        tokenizer: ``"char"`` or ``"whitespace"``.
        tokens: Tokens looked at.
        single_characters: Tokens that are one character.
        script_characters: One-character tokens of a character-tagged script (Han, kana...).
    """

    tokenizer: str
    tokens: int
    single_characters: int
    script_characters: int

    def describe(self) -> str:
        """The evidence in words, for the log and for warnings."""
        if not self.tokens:
            return "no tokens to decide from"
        single = self.single_characters / self.tokens
        script = self.script_characters / self.tokens
        return (
            f"{single:.0%} of {self.tokens:,} tokens are one character, {script:.0%} in "
            "Chinese, Japanese, Korean or a similar script"
        )


def decide_tokenizer(tokens: Iterable[str], *, from_vocabulary: bool = False) -> TokenizerDecision:
    """Pick ``"char"`` for character-level data, else ``"whitespace"`` (a pure function).

    Args:
        tokens: Training tokens, or a model's vocabulary; only the first
            :data:`SAMPLE_SIZE` are read.
        from_vocabulary: ``tokens`` are a vocabulary (each entry once): decided by
            :data:`MIN_VOCABULARY_SCRIPT_SHARE` alone.

    Returns:
        The decision with the counts behind it. No tokens give ``"whitespace"``.
    """
    total = single = script = 0
    for token in itertools.islice(tokens, SAMPLE_SIZE):
        # NFC so that a letter and its combining accent count as one character.
        text = unicodedata.normalize("NFC", str(token))
        if not text.strip():
            continue
        total += 1
        if len(text) == 1:
            single += 1
            script += is_character_script(text)
    if from_vocabulary:
        character_level = total > 0 and script >= MIN_VOCABULARY_SCRIPT_SHARE * total
    else:
        character_level = (
            total > 0
            and total - single <= MAX_MULTI_CHARACTER_SHARE * total
            and script >= MIN_SCRIPT_SHARE * total
        )
    return TokenizerDecision(CHARACTER if character_level else WHITESPACE, total, single, script)


def sentence_tokens(sentences: Sequence[Any] | None) -> Iterable[str]:
    """The tokens of token-list sentences, in order (nothing for ``None``)."""
    for sentence in sentences or ():
        if isinstance(sentence, str):  # a raw string: one token, as Kashgari would see it
            yield sentence
        else:
            yield from (str(token) for token in sentence)


def vocabulary_tokens(kash_model: Any) -> list[str]:
    """The training tokens a Kashgari model kept in its text processor, specials left out."""
    processor = getattr(kash_model, "text_processor", None)
    vocabulary = getattr(processor, "vocab2idx", None) or {}
    names = ("token_pad", "token_unk", "token_bos", "token_eos")
    reserved = _SPECIAL_TOKENS | {str(getattr(processor, name, "")) for name in names}
    tokens = [str(token) for token in vocabulary]
    # "##ing" and "[unused1]" are word pieces and placeholders of a BERT vocabulary.
    return [
        token
        for token in tokens
        if token not in reserved
        and not token.startswith("##")
        and not (len(token) > 2 and token.startswith("[") and token.endswith("]"))
    ]


def check_tokenizer_option(tokenizer: str | Callable[[str], Sequence[str]]) -> None:
    """Refuse an unknown tokenizer now, not when the model is saved after training.

    Raises:
        ValueError: If ``tokenizer`` is not ``"auto"`` and cannot be recorded by name.
    """
    if tokenizer != AUTO:
        tokenizer_name(tokenizer)


def choose_tokenizer(
    requested: str | Callable[[str], Sequence[str]],
    tokens: Callable[[], Iterable[str]],
    source: str,
    *,
    from_vocabulary: bool = False,
) -> str:
    """The tokenizer name to record: ``"auto"`` decided from ``tokens``, any other kept.

    Logs the automatic choice at INFO. An explicit ``"whitespace"`` on data
    that looks character-level is kept, with a :class:`TokenizerWarning`.

    Args:
        requested: ``"auto"``, ``"whitespace"``, ``"char"``, ``"module:function"`` or a function.
        tokens: Gives the tokens to decide from; called only when they are needed.
        source: What the tokens are, for the messages ("the training tokens").
        from_vocabulary: ``tokens`` are a vocabulary (see :func:`decide_tokenizer`).

    Returns:
        The name recorded in the MLmodel file and logged as the ``tokenizer`` param.

    Raises:
        ValueError: If ``requested`` is not a tokenizer that can be recorded.
    """
    if requested == AUTO:
        decision = decide_tokenizer(tokens(), from_vocabulary=from_vocabulary)
        _logger.info(
            "tokenizer='auto' chose %r from %s (%s); pass tokenizer='whitespace' or 'char' "
            "to override.",
            decision.tokenizer,
            source,
            decision.describe(),
        )
        return decision.tokenizer
    name = tokenizer_name(requested)
    if name == WHITESPACE:
        decision = decide_tokenizer(tokens(), from_vocabulary=from_vocabulary)
        if decision.tokenizer == CHARACTER:
            warnings.warn(
                f"tokenizer='whitespace' was given, but {source} look character-level "
                f"({decision.describe()}): the model will see a raw sentence as one unknown "
                "token and find no entities in it. Use tokenizer='char' or 'auto', or send "
                "token lists.",
                TokenizerWarning,
                stacklevel=3,
            )
    return name


def choose_for_fit(
    requested: str | Callable[[str], Sequence[str]], kash_model: Any, train_x: Sequence[Any] | None
) -> str:
    """:func:`choose_tokenizer` from the training tokens, or the vocabulary without them."""
    if train_x is not None:
        return choose_tokenizer(requested, lambda: sentence_tokens(train_x), "the training tokens")
    return choose_tokenizer(
        requested,
        lambda: vocabulary_tokens(kash_model),
        "the tokens in the model's vocabulary",
        from_vocabulary=True,
    )


@contextlib.contextmanager
def already_checked() -> Iterator[None]:
    """Silence a second :class:`TokenizerWarning` when saving a model whose fit already warned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TokenizerWarning)
        yield
