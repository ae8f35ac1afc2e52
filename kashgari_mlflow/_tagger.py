"""Fast sequence tagging with a Kashgari labeling model's ``tf_model``.

Kashgari's own ``predict`` pads every sentence to the longest one in the
input and prints progress bars. Here sentences are sorted by length and
padded per batch, which gives the same tags (padding is masked) at a fraction
of the cost, and the work can run without Kashgari installed: a
:class:`Tagger` is built either from a live Kashgari model or from the files
Kashgari's ``save`` writes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kashgari_mlflow._entities import OUTSIDE, is_internal_label


@dataclass(frozen=True)
class TextEncoding:
    """How Kashgari turns tokens into ids, read from its text processor."""

    token2idx: dict[str, int]
    token_pad: str
    token_unk: str
    token_bos: str
    token_eos: str
    segment: bool
    max_position: int | None

    @classmethod
    def from_processor_config(
        cls, config: dict[str, Any], *, segment: bool, max_position: int | None
    ) -> TextEncoding:
        """Build from the ``config`` block of a serialised Kashgari text processor."""
        return cls(
            token2idx=dict(config["vocab2idx"]),
            token_pad=config.get("token_pad", "[PAD]"),
            token_unk=config.get("token_unk", "[UNK]"),
            token_bos=config.get("token_bos", "[CLS]"),
            token_eos=config.get("token_eos", "[SEP]"),
            segment=segment,
            max_position=max_position,
        )

    def encode(self, sentences: Sequence[Sequence[str]], length: int) -> Any:
        """Ids padded at the end to ``length``, framed by BOS/EOS as Kashgari does."""
        vocab = self.token2idx
        has_frame = self.token_bos in vocab
        bos = vocab[self.token_bos] if has_frame else vocab.get(self.token_pad, 0)
        eos = vocab[self.token_eos] if has_frame else vocab.get(self.token_pad, 0)
        unk = vocab.get(self.token_unk)
        ids = np.full((len(sentences), length), vocab.get(self.token_pad, 0), dtype=np.int32)
        for row, sentence in enumerate(sentences):
            if unk is None:
                encoded = [vocab[token] for token in sentence]
            else:
                encoded = [vocab.get(token, unk) for token in sentence]
            framed = [bos, *encoded, eos][:length]
            ids[row, : len(framed)] = framed
        if self.segment:
            return [ids, np.zeros_like(ids)]
        return ids


class Tagger:
    """Predict one tag per token with a Kashgari labeling model's Keras network.

    Args:
        tf_model: The Keras model Kashgari built (``kash_model.tf_model``).
        encoding: How tokens become ids.
        labels: Label of each output index (``label_processor.idx2vocab``).
    """

    def __init__(self, tf_model: Any, encoding: TextEncoding, labels: Sequence[str]) -> None:
        self.tf_model = tf_model
        self.encoding = encoding
        self.labels = list(labels)
        self._trace_lock = threading.Lock()
        self._label_ids: Any = None

    @classmethod
    def from_kashgari(cls, kash_model: Any) -> Tagger:
        """Wrap a live Kashgari labeling model (no copy of its weights is made)."""
        text = kash_model.text_processor
        embedding = kash_model.embedding
        encoding = TextEncoding(
            token2idx=text.vocab2idx,
            token_pad=text.token_pad,
            token_unk=text.token_unk,
            token_bos=text.token_bos,
            token_eos=text.token_eos,
            segment=bool(embedding.segment),
            max_position=embedding.max_position,
        )
        idx2label = kash_model.label_processor.idx2vocab
        labels = [idx2label[index] for index in range(len(idx2label))]
        return cls(kash_model.tf_model, encoding, labels)

    @classmethod
    def from_saved(cls, model_dir: str) -> Tagger:
        """Rebuild a tagger from the folder Kashgari's ``save`` wrote, without Kashgari.

        Raises:
            FileNotFoundError: If ``model_config.json`` or the weights file is missing.
            ValueError: If a file is not what Kashgari writes.
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
        label_vocab = config["label_processor"]["config"]["vocab2idx"]
        labels = [label for label, _ in sorted(label_vocab.items(), key=lambda item: item[1])]
        return cls(tf_model, encoding, labels)

    @property
    def window(self) -> int | None:
        """Most tokens one forward pass can tag, or None when unlimited."""
        if self.encoding.max_position is None:
            return None
        return max(int(self.encoding.max_position) - 2, 1)

    def predict_tags(
        self, sentences: Sequence[Sequence[str]], batch_size: int = 64
    ) -> list[list[str]]:
        """Tag every token of every sentence.

        Sentences longer than the embedding's ``max_position`` are tagged in
        consecutive windows, so every token gets a tag. Internal labels
        (``[PAD]`` and the like, which an under-trained CRF can emit) become ``O``.

        Args:
            sentences: Token lists; an empty list gets an empty tag list.
            batch_size: Sentences per forward pass.

        Returns:
            One tag list per sentence, as long as the sentence.
        """
        pieces, owners = self._split_into_windows(sentences)
        piece_tags = self._predict_pieces(pieces, batch_size)
        tags: list[list[str]] = [[] for _ in sentences]
        for owner, piece in zip(owners, piece_tags, strict=True):
            tags[owner].extend(piece)
        return tags

    def _split_into_windows(
        self, sentences: Sequence[Sequence[str]]
    ) -> tuple[list[Sequence[str]], list[int]]:
        window = self.window
        pieces: list[Sequence[str]] = []
        owners: list[int] = []
        for index, sentence in enumerate(sentences):
            if window is None or len(sentence) <= window:
                pieces.append(sentence)
                owners.append(index)
                continue
            for start in range(0, len(sentence), window):
                pieces.append(sentence[start : start + window])
                owners.append(index)
        return pieces, owners

    def _predict_pieces(self, pieces: list[Sequence[str]], batch_size: int) -> list[list[str]]:
        results: list[list[str]] = [[] for _ in pieces]
        order = sorted(
            (i for i, piece in enumerate(pieces) if len(piece) > 0), key=lambda i: len(pieces[i])
        )
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            sentences = [pieces[i] for i in batch]
            best = self.predict_label_ids(sentences)
            for row, index in enumerate(batch):
                ids = best[row, 1 : len(pieces[index]) + 1]
                results[index] = [self._tag(int(label_id)) for label_id in ids]
        return results

    def predict_label_ids(self, sentences: Sequence[Sequence[str]]) -> Any:
        """Argmax label ids for one batch, shape ``(len(sentences), longest + 2)``."""
        length = max(len(sentence) for sentence in sentences) + 2
        inputs = self.encoding.encode(sentences, length)
        if self.encoding.segment:
            return self._label_id_function()(*inputs).numpy()
        return self._label_id_function()(inputs).numpy()

    def _label_id_function(self) -> Any:
        """The network plus argmax as one graph, traced once for every batch shape.

        Keras' ``predict_on_batch`` traces its graph again for new batch shapes
        (seconds each, on every first evaluation); an input signature with
        unknown batch and length dimensions is traced once. Tracing runs under a
        lock so concurrent first requests do not race it.
        """
        if self._label_ids is None:
            with self._trace_lock:
                if self._label_ids is None:
                    self._label_ids = _trace(self.tf_model, self.encoding.segment)
        return self._label_ids

    def _tag(self, label_id: int) -> str:
        label = self.labels[label_id] if label_id < len(self.labels) else OUTSIDE
        return OUTSIDE if is_internal_label(label) else label


def _trace(tf_model: Any, segment: bool) -> Any:
    import tensorflow as tf

    spec = tf.TensorSpec([None, None], tf.int32)

    def label_ids(*inputs: Any) -> Any:
        network_input = list(inputs) if segment else inputs[0]
        return tf.argmax(tf_model(network_input, training=False), axis=-1)

    return tf.function(label_ids, input_signature=[spec, spec] if segment else [spec])
