"""Fast sequence tagging with a Kashgari labeling model's ``tf_model``.

Kashgari's own ``predict`` pads every sentence to the longest one in the
input and prints progress bars. Here sentences are sorted by length and
padded per batch, which gives the same tags (padding is masked) at a fraction
of the cost, and the work can run without Kashgari installed: a
:class:`Tagger` is built from a live Kashgari model, from the SavedModel a
saved model carries, or from the files Kashgari's ``save`` writes (see
:mod:`kashgari_mlflow._networks`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from kashgari_mlflow._entities import OUTSIDE, is_internal_label

if TYPE_CHECKING:
    from kashgari_mlflow._networks import SavedNetwork


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
        """Ids padded at the end to ``length``, framed by BOS/EOS as Kashgari does.

        Segment ids are not returned: the inference graph makes them (all zeros).
        """
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
        return ids


class Tagger:
    """Predict one tag per token with a Kashgari labeling model's network.

    Args:
        serve: The inference graph, ``token_ids -> {"label_ids": ...}``.
        encoding: How tokens become ids.
        labels: Label of each output index (``label_processor.idx2vocab``).
    """

    def __init__(
        self, serve: Callable[[Any], dict[str, Any]], encoding: TextEncoding, labels: Sequence[str]
    ) -> None:
        self.serve = serve
        self.encoding = encoding
        self.labels = list(labels)
        # The tag of each output index, internal labels already turned into ``O``.
        self._tags = [self._tag(label_id) for label_id in range(len(self.labels))]

    @classmethod
    def from_network(cls, network: SavedNetwork) -> Tagger:
        """Build from a network read by :mod:`kashgari_mlflow._networks`."""
        return cls(network.serve, network.encoding, network.labels)

    @classmethod
    def from_kashgari(cls, kash_model: Any) -> Tagger:
        """Wrap a live Kashgari labeling model (no copy of its weights is made)."""
        from kashgari_mlflow._networks import from_kashgari

        return cls.from_network(from_kashgari(kash_model, "labeling"))

    @classmethod
    def from_saved(cls, model_dir: str) -> Tagger:
        """Rebuild a tagger from the folder Kashgari's ``save`` wrote (format 1 models).

        Raises:
            kashgari_mlflow._loading.ModelFilesError: If a file is missing or damaged.
        """
        from kashgari_mlflow._networks import read_kashgari_files

        return cls.from_network(read_kashgari_files(model_dir, "labeling"))

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
        tags, known = self._tags, len(self._tags)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            sentences = [pieces[i] for i in batch]
            best = self.predict_label_ids(sentences)
            for row, index in enumerate(batch):
                ids = best[row, 1 : len(pieces[index]) + 1].tolist()
                results[index] = [tags[i] if i < known else OUTSIDE for i in ids]
        return results

    def predict_label_ids(self, sentences: Sequence[Sequence[str]]) -> Any:
        """Argmax label ids for one batch, shape ``(len(sentences), longest + 2)``."""
        from kashgari_mlflow._serving_graph import LABEL_IDS

        length = max(len(sentence) for sentence in sentences) + 2
        return self.serve(self.encoding.encode(sentences, length))[LABEL_IDS].numpy()

    def _tag(self, label_id: int) -> str:
        label = self.labels[label_id] if label_id < len(self.labels) else OUTSIDE
        return OUTSIDE if is_internal_label(label) else label
