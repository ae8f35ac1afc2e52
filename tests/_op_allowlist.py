"""Derive the op allowlist of exported graphs: ``python -m tests._op_allowlist``.

Builds (untrained: the ops do not depend on the weights) every Kashgari
labeling and classification model class on a Bare embedding and on a tiny
BERT, exports each inference graph as ``save_model`` does, and prints the
sorted union of the ops in the graphs' functions, minus the checkpoint
save/restore functions TensorFlow adds to every SavedModel.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _models(workdir: Path) -> Iterator[tuple[str, Any, Any, Any]]:
    from kashgari.embeddings import BareEmbedding, TransformerEmbedding
    from kashgari.tasks import classification, labeling

    from tests._bert import random_bert_checkpoint
    from tests.conftest import _load_example_module

    x, y, _, _ = _load_example_module("demo_corpus").demo_corpus(n_train=40, n_dev=4, seed=7)
    words = sorted({token for sentence in x for token in sentence})
    vocab, config, checkpoint = random_bert_checkpoint(workdir / "bert", words)

    def bert() -> Any:
        return TransformerEmbedding(str(vocab), str(config), str(checkpoint), model_type="bert")

    for module, targets in ((labeling, y), (classification, [tags[0] for tags in y])):
        for name in module.__all__ if hasattr(module, "__all__") else dir(module):
            cls = getattr(module, name)
            if not isinstance(cls, type) or name.startswith("ABC") or not name[0].isupper():
                continue
            yield name, cls(BareEmbedding(embedding_size=8)), x, targets
    yield "BiLSTM_CRF_Model+BERT", labeling.BiLSTM_CRF_Model(bert()), x, y
    yield "CNN_Model+BERT", classification.CNN_Model(bert()), x, [tags[0] for tags in y]
    yield (
        "multi-label BiGRU_Model",
        classification.BiGRU_Model(BareEmbedding(embedding_size=8), multi_label=True),
        x,
        [[tags[0], tags[-1]] for tags in y],
    )


def exported_ops() -> set[str]:
    """Ops of every exported graph (save/restore functions excepted)."""
    from kashgari_mlflow._compat import import_kashgari, task_of
    from kashgari_mlflow._graph_ops import graph_ops
    from kashgari_mlflow._serving_graph import export_saved_model, inference_function

    import_kashgari()
    ops: set[str] = set()
    with tempfile.TemporaryDirectory() as workdir:
        for index, (name, model, x, y) in enumerate(_models(Path(workdir))):
            model.build_model(x, y)
            folder = Path(workdir, f"model-{index}")
            function = inference_function(
                model.tf_model, task_of(model), bool(model.embedding.segment)
            )
            export_saved_model(function, model.tf_model.weights, str(folder))
            found = graph_ops(str(folder / "saved_model.pb"))
            print(f"{name}: {len(found)} ops", file=sys.stderr)
            ops |= found
    return ops


if __name__ == "__main__":
    print(sorted(exported_ops()))
