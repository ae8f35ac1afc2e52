"""A small English NER corpus, generated from templates so the examples need no download.

Entity types: PER (people), LOC (places), ORG (organisations), tagged in BIO.
The same seed always gives the same sentences.
"""

from __future__ import annotations

import random

PEOPLE = [
    "John",
    "Mary",
    "Ahmed",
    "Li Wei",
    "Sofia Garcia",
    "James Brown",
    "Angela Merkel",
    "Barack Obama",
    "Priya",
    "Kenji Sato",
    "Elena",
    "Tom Hanks",
    "Serena Williams",
    "Olu Adeyemi",
    "Marie Curie",
    "Lucas",
    "Anna Schmidt",
    "David",
    "Fatima Zahra",
    "Ivan Petrov",
]
PLACES = [
    "New York",
    "Paris",
    "Berlin",
    "Tokyo",
    "London",
    "Cape Town",
    "San Francisco",
    "Lagos",
    "Mumbai",
    "Buenos Aires",
    "Toronto",
    "Sydney",
    "Madrid",
    "Cairo",
    "Hong Kong",
    "Rome",
    "Los Angeles",
    "Nairobi",
    "Seoul",
    "Mexico City",
]
ORGANISATIONS = [
    "Google",
    "Microsoft",
    "the United Nations",
    "Acme Corp",
    "Siemens",
    "Toyota",
    "the BBC",
    "Red Cross",
    "Apple",
    "Deutsche Bank",
    "Airbus",
    "Nokia",
    "Reuters",
    "the World Bank",
    "Samsung",
    "Unilever",
    "Interpol",
    "Netflix",
]
TEMPLATES = [
    "{PER} lives in {LOC} .",
    "{PER} works at {ORG} in {LOC} .",
    "{ORG} opened a new office in {LOC} .",
    "{PER} met {PER} in {LOC} last week .",
    "Yesterday {PER} flew from {LOC} to {LOC} .",
    "{PER} joined {ORG} as an engineer .",
    "The CEO of {ORG} , {PER} , spoke in {LOC} .",
    "{ORG} and {ORG} signed a deal in {LOC} .",
    "{PER} moved to {LOC} to study .",
    "According to {ORG} , prices in {LOC} rose again .",
    "I saw {PER} at the airport in {LOC} .",
    "{PER} left {ORG} after ten years .",
    "Fans in {LOC} cheered for {PER} .",
    "{ORG} hired {PER} to lead its team in {LOC} .",
    "We visited {LOC} with {PER} in May .",
]
_FILLERS = {"PER": PEOPLE, "LOC": PLACES, "ORG": ORGANISATIONS}


def _tag(entity: str, entity_type: str) -> tuple[list[str], list[str]]:
    tokens = entity.split()
    # "the" in "the BBC" stays outside the entity, as annotators usually do.
    if tokens[0] == "the" and len(tokens) > 1:
        return tokens, ["O", f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(tokens) - 2)
    return tokens, [f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(tokens) - 1)


def make_sentence(rng: random.Random) -> tuple[list[str], list[str]]:
    """One random sentence and its BIO tags."""
    tokens: list[str] = []
    tags: list[str] = []
    for word in rng.choice(TEMPLATES).split():
        if word.startswith("{") and word.endswith("}"):
            entity_type = word[1:-1]
            entity_tokens, entity_tags = _tag(rng.choice(_FILLERS[entity_type]), entity_type)
            tokens += entity_tokens
            tags += entity_tags
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def demo_corpus(
    n_train: int = 600, n_dev: int = 150, seed: int = 13
) -> tuple[list[list[str]], list[list[str]], list[list[str]], list[list[str]]]:
    """``(train_x, train_y, dev_x, dev_y)`` generated from the templates above."""
    rng = random.Random(seed)
    pairs = [make_sentence(rng) for _ in range(n_train + n_dev)]
    x = [tokens for tokens, _ in pairs]
    y = [tags for _, tags in pairs]
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
