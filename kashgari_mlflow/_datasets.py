"""Record the training and validation data of a run with ``mlflow.log_input``."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from kashgari_mlflow._entities import extract_spans
from kashgari_mlflow._redaction import Redactor


def corpus_profile(x: Sequence[Sequence[str]], y: Sequence[Sequence[Any]] | None) -> dict[str, Any]:
    """Sentence, token and entity counts and the tag distribution of a tagged corpus."""
    profile: dict[str, Any] = {
        "sentences": len(x),
        "tokens": sum(len(sentence) for sentence in x),
    }
    if y is not None and y and isinstance(y[0], list | tuple):
        tags = Counter(str(tag) for sequence in y for tag in sequence)
        entities = Counter(
            span.type for sequence in y for span in extract_spans(list(map(str, sequence)))
        )
        profile["label_distribution"] = dict(sorted(tags.items()))
        profile["entities"] = dict(sorted(entities.items()))
    elif y is not None:
        profile["label_distribution"] = dict(sorted(Counter(map(str, y)).items()))
    return profile


def corpus_digest(x: Sequence[Sequence[str]], y: Sequence[Any] | None) -> str:
    """An 8-character fingerprint of the tokens and labels (MLflow suggests 8 to 10)."""
    digest = hashlib.sha256()
    for index, sentence in enumerate(x):
        digest.update("\x1f".join(map(str, sentence)).encode("utf-8"))
        if y is not None:
            digest.update(b"\x1e")
            labels = y[index]
            digest.update(
                "\x1f".join(
                    map(str, labels if isinstance(labels, list | tuple) else [labels])
                ).encode()
            )
        digest.update(b"\x1d")
    return digest.hexdigest()[:8]


def make_dataset(x: Sequence[Sequence[str]], y: Sequence[Any] | None, name: str) -> Any:
    """An :class:`mlflow.data.dataset.Dataset` describing an in-memory Kashgari corpus."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset import Dataset

    class KashgariCorpus(Dataset):
        def __init__(self) -> None:
            self._profile = Redactor().scrub(corpus_profile(x, y), f"the {name} dataset profile")
            super().__init__(
                source=CodeDatasetSource(tags={}), name=name, digest=corpus_digest(x, y)
            )

        def _compute_digest(self) -> str:
            return corpus_digest(x, y)

        def to_dict(self) -> dict[str, str]:
            config: dict[str, str] = super().to_dict()
            config["profile"] = json.dumps(self._profile)
            return config

        @property
        def profile(self) -> Any:
            return self._profile

        @property
        def schema(self) -> None:
            return None

    return KashgariCorpus()


#: How the database behind an MLflow server words a duplicate key (PostgreSQL, SQLite, MySQL).
_DUPLICATE_KEY_WORDS = ("unique constraint", "uniqueviolation", "duplicate entry")
DUPLICATE_DATASET_ATTEMPTS = 3


def log_datasets(client: Any, run_id: str, datasets: Sequence[tuple[Any, str]]) -> None:
    """Log ``(dataset, context)`` pairs, e.g. ``(train, "training")``, to a run.

    An MLflow server looks a dataset up, then inserts it when missing: two
    trainings that log the same corpus into one experiment at the same moment
    can both insert, and the later one gets a duplicate-key error. The dataset
    exists by then, so the request is sent again (up to
    ``DUPLICATE_DATASET_ATTEMPTS`` times) and links it.
    """
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.exceptions import MlflowException
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    inputs = [
        DatasetInput(dataset._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, context)])
        for dataset, context in datasets
    ]
    for attempt in range(1, DUPLICATE_DATASET_ATTEMPTS + 1):
        try:
            client.log_inputs(run_id, datasets=inputs)
            return
        except MlflowException as err:
            message = str(err).lower()
            duplicate = any(words in message for words in _DUPLICATE_KEY_WORDS)
            if not duplicate or attempt == DUPLICATE_DATASET_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
