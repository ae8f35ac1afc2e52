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

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from kashgari_mlflow._pyfunc import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, normalize_rows, to_documents
from kashgari_mlflow._pyfunc import _invalid as invalid_input
from kashgari_mlflow._tagger import TextEncoding
from kashgari_mlflow._tokenizers import TokenizeFn, token_joiner

DEFAULT_THRESHOLD = 0.5


class Classifier:
    """Class probabilities from a Kashgari classification model's Keras network.

    Args:
        tf_model: The Keras model Kashgari built (``kash_model.tf_model``).
        encoding: How tokens become ids.
        labels: Label of each output index.
        multi_label: Whether the network scores labels independently (sigmoid).
    """

    def __init__(
        self, tf_model: Any, encoding: TextEncoding, labels: Sequence[str], multi_label: bool
    ) -> None:
        self.tf_model = tf_model
        self.encoding = encoding
        self.labels = list(labels)
        self.multi_label = multi_label
        self._trace_lock = threading.Lock()
        self._probabilities: Any = None

    @classmethod
    def from_saved(cls, model_dir: str) -> Classifier:
        """Rebuild from the folder Kashgari's ``save`` wrote, without Kashgari.

        Raises:
            kashgari_mlflow._loading.ModelFilesError: If a file is missing or damaged.
        """
        from kashgari_mlflow._loading import read_model_config, rebuild_tf_model

        config = read_model_config(model_dir)
        tf_model = rebuild_tf_model(model_dir, config)
        embedding = config["embedding"]["config"]
        encoding = TextEncoding.from_processor_config(
            config["text_processor"]["config"],
            segment=bool(embedding.get("segment", False)),
            max_position=embedding.get("max_position"),
        )
        label_config = config["label_processor"]["config"]
        vocab = label_config["vocab2idx"]
        labels = [label for label, _ in sorted(vocab.items(), key=lambda item: item[1])]
        return cls(tf_model, encoding, labels, bool(label_config.get("multi_label", False)))

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
            inputs = self.encoding.encode(tokens, length)
            function = self._function()
            scores = function(*inputs) if self.encoding.segment else function(inputs)
            result[batch] = scores.numpy()
        return result

    def _function(self) -> Any:
        if self._probabilities is None:
            with self._trace_lock:
                if self._probabilities is None:
                    self._probabilities = _trace(self.tf_model, self.encoding.segment)
        return self._probabilities


def _trace(tf_model: Any, segment: bool) -> Any:
    import tensorflow as tf

    spec = tf.TensorSpec([None, None], tf.int32)

    def probabilities(*inputs: Any) -> Any:
        network_input = list(inputs) if segment else inputs[0]
        return tf_model(network_input, training=False)

    return tf.function(probabilities, input_signature=[spec, spec] if segment else [spec])


def parse_classifier_params(params: dict[str, Any] | None) -> tuple[int, float]:
    """Validate the ``batch_size`` and ``threshold`` predict params.

    Raises:
        MlflowException: (HTTP 400 when served) if a value is out of range.
    """
    params = params or {}
    batch_size = params.get("batch_size")
    batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        batch_size = -1
    if not 1 <= int(batch_size) <= MAX_BATCH_SIZE:
        raise invalid_input(
            f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, got "
            f"{params.get('batch_size')!r}."
        )
    threshold = params.get("threshold")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float | np.floating)
        or not 0.0 <= float(threshold) <= 1.0
    ):
        raise invalid_input(f"threshold must be a number from 0 to 1, got {threshold!r}.")
    return int(batch_size), float(threshold)


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
        batch_size, threshold = parse_classifier_params(params)
        documents = to_documents(normalize_rows(model_input), self.tokenize, self.joiner)
        tokens = [[token.text for token in document.tokens] for document in documents]
        scores = self.classifier.predict_probabilities(tokens, batch_size)
        labels = self.classifier.labels
        answers = []
        for document, row in zip(documents, scores, strict=True):
            probabilities = {label: float(score) for label, score in zip(labels, row, strict=True)}
            answer: dict[str, Any] = {"text": document.text}
            if self.classifier.multi_label:
                ranked = sorted(probabilities.items(), key=lambda item: -item[1])
                answer["labels"] = [label for label, score in ranked if score >= threshold]
            else:
                answer["label"] = labels[int(np.argmax(row))]
            answer["probabilities"] = probabilities
            answers.append(answer)
        return answers
