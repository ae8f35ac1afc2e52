"""A BERT checkpoint with random weights, for tests and benchmarks of BERT models."""

from __future__ import annotations

import json
from pathlib import Path


def random_bert_checkpoint(
    folder: Path,
    words: list[str],
    *,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    intermediate_size: int = 64,
    max_positions: int = 64,
) -> tuple[Path, Path, Path]:
    """A BERT with random weights as a TF checkpoint (no download): vocab, config, checkpoint.

    The defaults make a tiny one (2 layers, hidden 32) for tests; the benchmarks
    ask for a bigger one, whose weights outweigh the code's memory.
    """
    from bert4keras.models import build_transformer_model

    folder.mkdir()
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    config = folder / "bert_config.json"
    config.write_text(
        json.dumps(
            {
                "hidden_size": hidden_size,
                "num_hidden_layers": layers,
                "num_attention_heads": heads,
                "intermediate_size": intermediate_size,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.0,
                "attention_probs_dropout_prob": 0.0,
                "max_position_embeddings": max_positions,
                "type_vocab_size": 2,
                "vocab_size": len(words) + 5,
                "initializer_range": 0.02,
            }
        )
    )
    bert = build_transformer_model(
        str(config), checkpoint_path=None, model="bert", return_keras_model=False
    )
    # bert4keras' own save_weights_as_checkpoint needs TF1 sessions: write the
    # checkpoint under the variable names its loader reads, with TF2 ops.
    import tensorflow as tf

    names, values = [], []
    for layer_name, variables in bert.variable_mapping().items():
        layer = bert.layers.get(bert.prefixed(layer_name))
        if layer is None:
            continue
        for name, weight in zip(variables, layer.trainable_weights, strict=False):
            names.append(name)
            values.append(tf.constant(weight.numpy()))
    checkpoint = folder / "bert_model.ckpt"
    tf.raw_ops.SaveV2(
        prefix=str(checkpoint),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=values,
    )
    return vocab, config, checkpoint
