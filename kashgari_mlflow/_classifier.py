"""Text classification with a Kashgari classification model, as a pyfunc.

``predict`` takes the same inputs as the NER pyfunc (a string, a list of
strings, token lists, a DataFrame with a ``text`` or ``tokens`` column) and
returns one dict per input::

    {"text": "Mary works at Google", "label": "org",
     "probabilities": {"org": 0.91, "other": 0.09}}

For a multi-label model ``label`` is replaced by ``labels``: every label whose
probability reaches the ``threshold`` param (0.5 by default), most probable
first. Sentences longer than the embedding's ``max_position`` are cut to it,
as Kashgari's own ``predict(truncating=True)`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kashgari_mlflow._gc_pause import collector_paused
from kashgari_mlflow._pyfunc import (
    DEFAULT_BATCH_SIZE,
    PredictParams,
    normalize_rows,
    parse_params,
    to_documents,
)
from kashgari_mlflow._serving_graph import PROBABILITIES
from kashgari_mlflow._tagger import TextEncoding
from kashgari_mlflow._tokenizers import TokenizeFn, token_joiner

if TYPE_CHECKING:
    from kashgari_mlflow._networks import SavedNetwork


class Classifier:
    """Class probabilities from a Kashgari classification model's network.

    Args:
        serve: The inference graph, ``token_ids -> {"probabilities": ...}``.
        encoding: How tokens become ids.
        labels: Label of each output index.
        multi_label: Whether the network scores labels independently (sigmoid).
    """

    def __init__(
        self,
        serve: Callable[[Any], dict[str, Any]],
        encoding: TextEncoding,
        labels: Sequence[str],
        multi_label: bool,
    ) -> None:
        self.serve = serve
        self.encoding = encoding
        self.labels = list(labels)
        self.multi_label = multi_label

    @classmethod
    def from_network(cls, network: SavedNetwork) -> Classifier:
        """Build from a network read by :mod:`kashgari_mlflow._networks`."""
        return cls(network.serve, network.encoding, network.labels, network.multi_label)

    @classmethod
    def from_saved(cls, model_dir: str) -> Classifier:
        """Rebuild from the folder Kashgari's ``save`` wrote (format 1 models).

        Raises:
            kashgari_mlflow._loading.ModelFilesError: If a file is missing or damaged.
        """
        from kashgari_mlflow._networks import read_kashgari_files

        return cls.from_network(read_kashgari_files(model_dir, "classification"))

    def predict_probabilities(
        self, sentences: Sequence[Sequence[str]], batch_size: int = DEFAULT_BATCH_SIZE
    ) -> Any:
        """Probabilities of every label, shape ``(len(sentences), len(labels))``.

        Every sentence is padded to the longest one in the input, as Kashgari's
        own ``predict`` does, so networks that do not mask padding score alike.
        """
        limit = None
        if self.encoding.max_position is not None:
            limit = max(int(self.encoding.max_position) - 2, 1)
        pieces = [list(sentence)[:limit] if limit else list(sentence) for sentence in sentences]
        result = np.zeros((len(pieces), len(self.labels)), dtype=np.float32)
        # One padded length for the whole input, as Kashgari's predict: networks
        # without masking (CNN_Model) score padding, so bucketing would change labels.
        length = max((len(piece) for piece in pieces), default=0) + 2
        for start in range(0, len(pieces), batch_size):
            batch = list(range(start, min(start + batch_size, len(pieces))))
            tokens = [pieces[index] for index in batch]
            scores = self.serve(self.encoding.encode(tokens, length))[PROBABILITIES]
            result[batch] = scores.numpy()
        return result


class KashgariClassifierPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps for a Kashgari classification model.

    Args:
        classifier: The network and vocabularies.
        tokenize: Splits raw strings into tokens with offsets.
        tokenizer_name: Name recorded in the MLmodel file.
    """

    def __init__(self, classifier: Classifier, tokenize: TokenizeFn, tokenizer_name: str) -> None:
        self.classifier = classifier
        self.tokenize = tokenize
        self.tokenizer_name = tokenizer_name
        self.joiner = token_joiner(tokenizer_name)

    def get_raw_model(self) -> Classifier:
        """The underlying :class:`Classifier` (MLflow's ``unwrap_python_model`` hook)."""
        return self.classifier

    def predict(
        self, model_input: Any, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Classify each input; see the module docstring for the answer's shape."""
        parsed = parse_params(params)
        rows = normalize_rows(model_input)
        with collector_paused(len(rows)):
            return self._classify(rows, parsed)

    def _classify(self, rows: list[Any], parsed: PredictParams) -> list[dict[str, Any]]:
        documents = to_documents(rows, self.tokenize, self.joiner)
        tokens = [[token.text for token in document.tokens] for document in documents]
        scores = self.classifier.predict_probabilities(tokens, parsed.batch_size)
        labels = self.classifier.labels
        answers = []
        for document, row in zip(documents, scores, strict=True):
            probabilities = {label: float(score) for label, score in zip(labels, row, strict=True)}
            answer: dict[str, Any] = {"text": document.text}
            if self.classifier.multi_label:
                ranked = sorted(probabilities.items(), key=lambda item: -item[1])
                answer["labels"] = [label for label, score in ranked if score >= parsed.threshold]
            else:
                answer["label"] = labels[int(np.argmax(row))]
            answer["probabilities"] = probabilities
            answers.append(answer)
        return answers
