"""A small Chinese NER corpus in the People's Daily format, generated so nothing is downloaded.

Character-level, as the People's Daily corpus (Kashgari's
``ChineseDailyNerCorpus``) is: one character and its tag per line, separated
by a space, a blank line between sentences. Entity types: PER, LOC, ORG in
BIO. The same seed always gives the same sentences. Write two files with:

    python examples/chinese_corpus.py train.txt dev.txt
"""

from __future__ import annotations

import random
import re
import sys

PEOPLE = [
    "李鹏",
    "张伟",
    "王芳",
    "刘洋",
    "陈静",
    "杨帆",
    "赵磊",
    "黄敏",
    "周杰",
    "吴婷",
    "孙立平",
    "马晓东",
]
PLACES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "南京",
    "杭州",
    "日本",
    "美国",
    "法国",
    "香港",
    "西安",
    "武汉",
]
ORGANISATIONS = [
    "新华社",
    "国务院",
    "清华大学",
    "人民日报",
    "中国银行",
    "联合国",
    "外交部",
    "北京大学",
    "人民大会堂",
]
# Full-width punctuation, as in the real corpus: "\uff0c" is the comma.
COMMA = "\uff0c"
TEMPLATES = [
    "{PER}在{LOC}工作。",
    "{PER}昨天从{LOC}到了{LOC}。",
    "{ORG}记者{PER}报道。",
    f"据{{ORG}}消息{COMMA}{{PER}}访问了{{LOC}}。",
    "{ORG}在{LOC}召开会议。",
    f"{{PER}}是{{ORG}}的教授{COMMA}住在{{LOC}}。",
    "{PER}在{ORG}会见了{PER}。",
    "{LOC}的{ORG}发布了新的报告。",
    f"{{ORG}}{{LOC}}1月3日电{COMMA}{{PER}}出席了会议。",
    "今天{PER}和{PER}一起去{LOC}旅游。",
]
_FILLERS = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGANISATIONS}
_SLOT = re.compile(r"\{(PER|LOC|ORG)\}")


def make_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """One random sentence as characters, and their BIO tags."""
    characters: list[str] = []
    tags: list[str] = []
    template = rng.choice(TEMPLATES)
    position = 0
    for slot in _SLOT.finditer(template):
        text = template[position : slot.start()]
        characters += list(text)
        tags += ["O"] * len(text)
        entity_type = slot.group(1)
        entity = rng.choice(_FILLERS[entity_type])
        characters += list(entity)
        tags += [f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(entity) - 1)
        position = slot.end()
    characters += list(template[position:])
    tags += ["O"] * len(template[position:])
    return characters, tags


def chinese_corpus(
    n_train: int = 300, n_dev: int = 80, seed: int = 17
) -> tuple[list[list[str]], list[list[str]], list[list[str]], list[list[str]]]:
    """``(train_x, train_y, dev_x, dev_y)`` generated from the templates above."""
    rng = random.Random(seed)
    pairs = [make_sentence(rng) for _ in range(n_train + n_dev)]
    x = [characters for characters, _ in pairs]
    y = [tags for _, tags in pairs]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def write_peoples_daily(path: str, x: list[list[str]], y: list[list[str]]) -> None:
    """Write sentences as People's Daily does: ``字 tag`` lines, blank lines between."""
    with open(path, "w", encoding="utf-8") as handle:
        for characters, tags in zip(x, y, strict=True):
            handle.writelines(f"{c} {t}\n" for c, t in zip(characters, tags, strict=True))
            handle.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python examples/chinese_corpus.py TRAIN_FILE DEV_FILE")
    train_x, train_y, dev_x, dev_y = chinese_corpus()
    write_peoples_daily(sys.argv[1], train_x, train_y)
    write_peoples_daily(sys.argv[2], dev_x, dev_y)
    print(f"Wrote {len(train_x)} sentences to {sys.argv[1]} and {len(dev_x)} to {sys.argv[2]}.")
