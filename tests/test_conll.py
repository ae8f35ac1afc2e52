from pathlib import Path

import pytest

from kashgari_mlflow import read_conll
from kashgari_mlflow._conll import ConllFormatError

from .conftest import SHARED_WNUT17


def test_tabs_spaces_and_whitespace_only_separators(tmp_path: Path):
    path = tmp_path / "mixed.conll"
    path.write_text(
        "-DOCSTART- -X- O O\n\nJohn\tB-PER\nlives O\n\t\n"
        "in  O\nNew NNP B-LOC\nYork NNP I-LOC\n   \n\n",
        encoding="utf-8",
    )
    x, y = read_conll(path)
    assert x == [["John", "lives"], ["in", "New", "York"]]
    assert y == [["B-PER", "O"], ["O", "B-LOC", "I-LOC"]]


def test_line_without_tag_names_file_and_line(tmp_path: Path):
    path = tmp_path / "bad.conll"
    path.write_text("John\tB-PER\nlives\n", encoding="utf-8")
    with pytest.raises(ConllFormatError, match=r"bad.conll:2: expected 'token<TAB>tag'"):
        read_conll(path)


@pytest.mark.skipif(not SHARED_WNUT17.is_dir(), reason="../shared/data/wnut17 is not present")
@pytest.mark.parametrize(("name", "sentences"), [("train", 3394), ("dev", 1009), ("test", 1287)])
def test_reads_real_wnut17_files(name: str, sentences: int):
    x, y = read_conll(SHARED_WNUT17 / f"{name}.conll")
    assert len(x) == len(y) == sentences
    assert all(len(tokens) == len(tags) > 0 for tokens, tags in zip(x, y, strict=True))
    types = {tag.split("-", 1)[1] for tags in y for tag in tags if tag != "O"}
    assert types == {"person", "location", "group", "corporation", "product", "creative-work"}


def test_reads_the_peoples_daily_format_as_it_is(tmp_path: Path):
    # One character and its tag per line, a space between, blank lines between sentences;
    # a token may itself be an ideographic space (U+3000).
    path = tmp_path / "example.train"
    path.write_text(
        "新 B-ORG\n华 I-ORG\n社 I-ORG\n\u3000 O\n电 O\n\n李 B-PER\n鹏 I-PER\n\n", "utf-8"
    )
    x, y = read_conll(path)
    assert x == [["新", "华", "社", "\u3000", "电"], ["李", "鹏"]]
    assert y == [["B-ORG", "I-ORG", "I-ORG", "O", "O"], ["B-PER", "I-PER"]]
