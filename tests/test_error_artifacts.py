"""The error analysis as people read it: type confusion, the error table, the HTML page."""

from html.parser import HTMLParser

from kashgari_mlflow._error_analysis import analyze
from kashgari_mlflow._error_artifacts import NONE, error_page, error_rows, type_confusion
from tests.test_error_analysis import GOLD, PRED

X = [[f"w{i}" for i in range(len(tags))] for tags in GOLD]


def test_type_confusion_counts_every_pair_once():
    confusion = type_confusion(analyze(GOLD, PRED))
    assert confusion["labels"] == ["LOC", "ORG", "PER", NONE]
    assert confusion["gold_by_predicted"] == [
        [2, 1, 1, 0],  # LOC: two boundary errors, one typed ORG, one overlapped by a PER
        [0, 0, 0, 0],
        [0, 0, 1, 1],  # PER: one right, one missed
        [1, 1, 0, 0],  # made up: a LOC (the split's smaller part) and an ORG
    ]


def test_error_rows_put_the_sentences_with_most_errors_first():
    rows = error_rows(analyze(GOLD, PRED), X, epoch=4)
    assert len(rows) == 6
    first = rows[0]
    assert first == {
        "sentence": "w0 w1 w2", "gold": "LOC: w0 w1 w2", "predicted": "LOC: w0; LOC: w1 w2",
        "errors": "boundary, spurious", "error_count": 2, "epoch": 4,
    }  # fmt: skip
    assert rows[1]["errors"] == "type" and rows[1]["gold"] == "PER: w0 w1; LOC: w3"
    assert len(error_rows(analyze(GOLD, PRED), X, epoch=4, limit=2)) == 2


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs


def test_the_html_page_shows_hostile_tokens_as_text():
    hostile = "<script>document.title='ran'</script>"
    x = [[hostile, "<img src=x onerror=alert(1)>", "and", "Paris"]]
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-<b>x</b>"]]
    page = error_page(analyze(gold, pred), x, epoch=0)
    parsed = _Elements()
    parsed.feed(page)
    assert parsed.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b",
                           "section", "mark", "small"}  # fmt: skip
    assert parsed.attributes == [("charset", "utf-8")]
    assert "&lt;script&gt;" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "boundary" in page and "type" in page


def test_a_run_without_errors_gets_an_empty_table_and_a_page_that_says_so():
    analysis = analyze([["B-PER"]], [["B-PER"]])
    assert error_rows(analysis, [["John"]], epoch=0) == []
    assert "of 0 with any" in error_page(analysis, [["John"]], epoch=0)
