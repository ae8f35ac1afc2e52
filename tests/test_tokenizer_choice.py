"""``tokenizer="auto"``: the decision from tokens, the vocabulary, the log and the warning."""

import logging
import warnings
from types import SimpleNamespace

import pytest

from kashgari_mlflow._pyfunc import to_documents
from kashgari_mlflow._tokenizer_choice import (
    SAMPLE_SIZE,
    TokenizerWarning,
    already_checked,
    check_tokenizer_option,
    choose_for_fit,
    choose_tokenizer,
    decide_tokenizer,
    sentence_tokens,
    vocabulary_tokens,
)
from kashgari_mlflow._tokenizers import char_tokenize, join_tokens, token_joiner

# Full-width punctuation ("\uff0c" is the full-width comma) is part of Chinese text.
PEOPLES_DAILY = "新华社北京1月3日电\uff0c国务院总理李鹏在人民大会堂会见了日本首相。"
ENGLISH = ["Yesterday", "Angela", "Merkel", "flew", "from", "Berlin", "to", "Tokyo", ","]
ENGLISH += ["and", "met", "a", "U.N.", "envoy", "."]


@pytest.mark.parametrize(
    "tokens",
    [
        list(PEOPLES_DAILY),  # digits and full-width punctuation inside Chinese text
        list("東京でソニーの社長に会った。"),  # Japanese: kanji, hiragana, katakana
        list("김철수는서울에산다"),  # Korean, one hangul syllable per token
        list("สมชายไปกรุงเทพ"),  # Thai, including its combining vowel signs
        list("2008年北京奥运会在8月8日开幕\uff0cNike和adidas都来了"),  # Latin letters mixed in
        [*list(PEOPLES_DAILY) * 2, "2019", "iPhone"],  # a few multi-character tokens
        ["好"],  # a one-token corpus
    ],
)
def test_character_level_data_gives_char(tokens):
    assert decide_tokenizer(tokens).tokenizer == "char"


@pytest.mark.parametrize(
    "tokens",
    [
        ENGLISH,
        [],  # nothing to decide from: the historical default
        [
            "新华社",
            "北京",
            "1月",
            "3日",
            "电",
            "\uff0c",
            "国务院",
            "总理",
            "李鹏",
        ],  # segmented words
        list("abcdefghij"),  # single characters, but no character-tagged script
        list("1997\uff0c12。31"),  # digits and punctuation alone are no evidence
        ["北京"],  # a one-token corpus of a word
        ["新", "华", "社", "1997年", "北京"],  # too many words among the characters
        [" ", "\t", ""],  # blank tokens are not counted
    ],
)
def test_word_level_or_unclear_data_gives_whitespace(tokens):
    assert decide_tokenizer(tokens).tokenizer == "whitespace"


def test_decision_counts_what_it_saw_and_reads_a_bounded_sample():
    decision = decide_tokenizer(["新", "华", "社", "1", "New York"])
    assert (decision.tokens, decision.single_characters, decision.script_characters) == (5, 4, 3)
    assert decision.describe() == (
        "80% of 5 tokens are one character, 60% in Chinese, Japanese, Korean or a similar script"
    )

    def endless():
        while True:
            yield "字"

    assert decide_tokenizer(endless()).tokens == SAMPLE_SIZE


def test_sentence_tokens_flattens_token_lists():
    assert list(sentence_tokens([["新", "华"], ("社",)])) == ["新", "华", "社"]
    assert list(sentence_tokens(None)) == []


def test_vocabulary_tokens_skip_reserved_entries():
    processor = SimpleNamespace(
        vocab2idx={"[PAD]": 0, "<unk>": 1, "[BOS]": 2, "[EOS]": 3, "新": 4, "##华": 5, "[": 6},
        token_pad="[PAD]",
        token_unk="<unk>",
        token_bos="[BOS]",
        token_eos="[EOS]",
    )
    assert vocabulary_tokens(SimpleNamespace(text_processor=processor)) == ["新", "["]
    assert vocabulary_tokens(SimpleNamespace()) == []


def test_auto_says_what_it_chose_once_at_info(caplog):
    calls = []

    def tokens():
        calls.append(1)
        return list(PEOPLES_DAILY)

    with caplog.at_level(logging.INFO, logger="kashgari_mlflow"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert choose_tokenizer("auto", tokens, "the training tokens") == "char"
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "tokenizer='auto' chose 'char' from the training tokens" in record.getMessage()
    assert calls == [1]


@pytest.mark.parametrize("explicit", ["char", "my_module:split"])
def test_an_explicit_tokenizer_wins_without_reading_the_data(explicit):
    def tokens():
        raise AssertionError("the data must not be read")

    assert choose_tokenizer(explicit, tokens, "the training tokens") == explicit


def test_forced_whitespace_on_character_data_is_kept_with_a_warning():
    with pytest.warns(TokenizerWarning, match="tokenizer='whitespace' was given, but the train"):
        name = choose_tokenizer("whitespace", lambda: list(PEOPLES_DAILY), "the training tokens")
    assert name == "whitespace"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            choose_tokenizer("whitespace", lambda: ENGLISH, "the training tokens") == "whitespace"
        )


def test_tokenizer_warning_is_a_user_warning_users_can_filter():
    import kashgari_mlflow

    assert kashgari_mlflow.TokenizerWarning is TokenizerWarning
    assert issubclass(TokenizerWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with already_checked():
            choose_tokenizer("whitespace", lambda: list(PEOPLES_DAILY), "the training tokens")


def test_fit_decides_from_training_tokens_else_from_the_vocabulary():
    processor = SimpleNamespace(vocab2idx={"[PAD]": 0, "John": 1, "Paris": 2})
    model = SimpleNamespace(text_processor=processor)
    assert choose_for_fit("auto", model, [list(PEOPLES_DAILY)]) == "char"
    assert choose_for_fit("auto", model, None) == "whitespace"


def test_unknown_tokenizer_is_refused_up_front():
    check_tokenizer_option("auto")
    with pytest.raises(ValueError, match="Unknown tokenizer 'chars'"):
        check_tokenizer_option("chars")


def test_one_joining_rule():
    def joined(tokenizer: str, tokens: list[str]) -> str:
        return join_tokens(tokens, token_joiner(tokenizer))

    assert joined("char", list("新华社")) == "新华社"
    assert joined("whitespace", ["New", "York", "is", "big"]) == "New York is big"
    assert joined("my_module:split", ["New", "York"]) == "New York"
    # Character-level corpora keep Latin words and numbers whole: two of them get a space.
    assert joined("char", ["在", "New", "York", "的", "ABC", "公", "司"]) == "在New York的ABC公司"
    assert joined("char", ["1", "9", "9", "8", "年", "2024", "iPhone", "15"]) == (
        "1998年2024 iPhone 15"
    )
    assert joined("char", ["東", "京", "Tokyo", "。"]) == "東京Tokyo。"


def test_token_list_offsets_follow_the_joining_rule():
    (document,) = to_documents(
        [["在", "New", "York", "见", "李", "鹏"]], char_tokenize, token_joiner("char")
    )
    assert document.text == "在New York见李鹏"
    for token in document.tokens:
        assert document.text[token.start : token.end] == token.text


def _bert_like_vocabulary(han: int, latin_words: int, word_pieces: int) -> dict[str, int]:
    """A vocabulary in the shape of a BERT one: reserved entries, Han characters and
    their ``##`` continuations, Latin words and pieces, single ASCII characters."""
    entries = ["[PAD]", *(f"[unused{i}]" for i in range(1, 100)), "[UNK]", "[CLS]", "[SEP]"]
    characters = [chr(0x4E00 + i) for i in range(han)]
    entries += characters + [f"##{c}" for c in characters]
    entries += [f"word{i}" for i in range(latin_words)]
    entries += [f"##piece{i}" for i in range(word_pieces)]
    entries += [chr(c) for c in range(0x21, 0x7F)]
    return {token: index for index, token in enumerate(entries)}


@pytest.mark.parametrize(
    ("vocabulary", "expected"),
    [
        # bert-base-chinese: 21,128 entries, most of them Han characters with and without ##.
        (_bert_like_vocabulary(han=8000, latin_words=3000, word_pieces=1500), "char"),
        # English BERT: words and pieces, a few hundred Han characters.
        (_bert_like_vocabulary(han=600, latin_words=20000, word_pieces=5000), "whitespace"),
        # Multilingual BERT: Han is a minority among many scripts' words: no guess.
        (_bert_like_vocabulary(han=14000, latin_words=70000, word_pieces=20000), "whitespace"),
        # Kashgari's own vocabulary after training on People's Daily: characters, a few numbers.
        ({**{c: i for i, c in enumerate(PEOPLES_DAILY)}, "1998": 90, "NBA": 91}, "char"),
    ],
    ids=["chinese-bert", "english-bert", "multilingual-bert", "peoples-daily"],
)
def test_save_without_training_data_decides_from_the_vocabulary(vocabulary, expected):
    model = SimpleNamespace(text_processor=SimpleNamespace(vocab2idx=vocabulary))
    assert choose_for_fit("auto", model, None) == expected
