"""Every Kashgari embedding, and user subclasses, round-trip through the flavor."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import mlflow
import numpy as np
import pytest

import kashgari_mlflow
from tests._bert import random_bert_checkpoint
from tests.conftest import ROOT, block_imports, run_functions_eagerly

pytestmark = pytest.mark.slow


def _vocabulary(demo_data: Any) -> list[str]:
    train_x, _, dev_x, _ = demo_data
    return sorted({token for sentence in train_x + dev_x for token in sentence})


def _fit(model: Any, demo_data: Any, epochs: int = 1, callbacks: Any = ()) -> Any:
    """Build, compile and fit ``model``: one eager epoch, as for ``make_tiny_model``.

    These tests compare the loaders' tags with Kashgari's for the same weights;
    what the model learned does not matter.
    """
    import tensorflow as tf

    run_functions_eagerly(True)
    train_x, train_y, dev_x, dev_y = demo_data
    model.build_model(train_x, train_y)
    model.compile_model(optimizer=tf.keras.optimizers.Adam(learning_rate=0.02))
    model.fit(
        train_x, train_y, dev_x, dev_y, batch_size=32, epochs=epochs,
        callbacks=list(callbacks), fit_kwargs={"verbose": 0},
    )  # fmt: skip
    return model


def _kashgari_tags(model: Any, sentences: list[list[str]]) -> list[list[str]]:
    """Kashgari's own tags, with its internal labels ([PAD], [BOS]...) read as O like ours."""
    return [
        ["O" if tag.startswith("[") and tag.endswith("]") else tag for tag in tags]
        for tags in model.predict(sentences, batch_size=16)
    ]


def _small_model_hyper(cls: Any) -> dict[str, Any]:
    hyper = cls.default_hyper_parameters()
    for layer in hyper.values():
        if "units" in layer:
            layer["units"] = 16
    return dict(hyper)


def test_word_embedding_from_a_gensim4_word2vec_file(
    demo_data, tmp_path, tracking_uri, monkeypatch
):
    from gensim.models import KeyedVectors
    from kashgari.embeddings import WordEmbedding
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    words = _vocabulary(demo_data)
    vectors = KeyedVectors(vector_size=8)
    vectors.add_vectors(words, np.random.default_rng(3).normal(size=(len(words), 8)))
    w2v_path = tmp_path / "vectors.txt"
    vectors.save_word2vec_format(str(w2v_path), binary=False)

    kashgari_mlflow.support_gensim4()  # WordEmbedding reads the file as it is created
    embedding = WordEmbedding(str(w2v_path))
    model = BiLSTM_CRF_Model(embedding, hyper_parameters=_small_model_hyper(BiLSTM_CRF_Model))
    callback = kashgari_mlflow.MlflowCallback(log_model="last")
    model = _fit(model, demo_data, callbacks=[callback])
    dev_x = demo_data[2]
    expected = _kashgari_tags(model, dev_x)

    model_uri = f"runs:/{callback.active_run_id}/model"
    w2v_path.unlink()  # loaders need only the model: serving machines lack the vectors
    native = kashgari_mlflow.load_model(model_uri)
    assert _kashgari_tags(native, dev_x) == expected
    assert native.embedding.vocab2idx == native.text_processor.vocab2idx

    block_imports(monkeypatch)  # ... and gensim, Kashgari, bert4keras, tensorflow-addons
    answers = mlflow.pyfunc.load_model(model_uri).predict(dev_x)
    assert [answer["tags"] for answer in answers] == expected


@pytest.fixture(scope="module")
def tiny_bert(demo_data, tmp_path_factory):
    from kashgari.embeddings import TransformerEmbedding

    folder = tmp_path_factory.mktemp("bert") / "bert"
    files = [str(path) for path in random_bert_checkpoint(folder, _vocabulary(demo_data))]
    return lambda: TransformerEmbedding(*files, model_type="bert")


def _windowed_kashgari_tags(model: Any, sentence: list[str], window: int) -> list[str]:
    pieces = [sentence[start : start + window] for start in range(0, len(sentence), window)]
    return [tag for tags in _kashgari_tags(model, pieces) for tag in tags]


def test_bert_crf_tagger_serves_with_tensorflow_alone(demo_data, tiny_bert, tmp_path, monkeypatch):
    """The issue's case: a BiLSTM-CRF on BERT (segment inputs), past max_position too."""
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    model = _fit(
        BiLSTM_CRF_Model(tiny_bert(), hyper_parameters=_small_model_hyper(BiLSTM_CRF_Model)),
        demo_data,
    )
    assert model.embedding.segment and model.embedding.max_position == 64
    dev_x = demo_data[2][:30]
    longest = [token for sentence in dev_x for token in sentence][:150]
    expected = [*_kashgari_tags(model, dev_x), _windowed_kashgari_tags(model, longest, 62)]

    kashgari_mlflow.save_model(model, str(tmp_path / "model"), tokenizer="char")
    # The native loader's checks accept BERT's own layers (Keras writes their gelu_erf
    # activation with the module "builtins").
    native = kashgari_mlflow.load_model(str(tmp_path / "model"))
    assert _kashgari_tags(native, dev_x) == expected[:-1]

    block_imports(monkeypatch)
    answers = mlflow.pyfunc.load_model(str(tmp_path / "model")).predict([*dev_x, longest])
    assert [answer["tags"] for answer in answers] == expected


def test_bert_classifier_serves_with_tensorflow_alone(demo_data, tiny_bert, tmp_path, monkeypatch):
    from kashgari.tasks.classification import BiGRU_Model

    train_x, train_y, dev_x, _ = demo_data
    labels = [tags[0] for tags in train_y]
    model = BiGRU_Model(tiny_bert(), hyper_parameters=_small_model_hyper(BiGRU_Model))
    model.fit(train_x, labels, batch_size=32, epochs=1, fit_kwargs={"verbose": 0})
    sentences = dev_x[:20]
    expected = [str(label) for label in model.predict(sentences, batch_size=32)]

    kashgari_mlflow.save_model(model, str(tmp_path / "model"))
    block_imports(monkeypatch)
    answers = mlflow.pyfunc.load_model(str(tmp_path / "model")).predict(sentences)
    assert [answer["label"] for answer in answers] == expected


SUBCLASS_MODULE = '''
from kashgari.tasks.labeling import BiLSTM_Model


class CompanyNER(BiLSTM_Model):
    """A team's own model class: BiLSTM with its own defaults."""

    @classmethod
    def default_hyper_parameters(cls):
        hyper = super().default_hyper_parameters()
        hyper["layer_blstm"]["units"] = 12
        return hyper
'''


def test_user_subclass_loads_through_code_paths(demo_data, tmp_path, monkeypatch):
    from kashgari.embeddings import BareEmbedding

    source = tmp_path / "src" / "company_models.py"
    source.parent.mkdir()
    source.write_text(SUBCLASS_MODULE)
    monkeypatch.syspath_prepend(str(source.parent))
    from company_models import CompanyNER  # type: ignore[import-not-found]

    model = _fit(CompanyNER(BareEmbedding(embedding_size=16)), demo_data)
    kashgari_mlflow.save_model(model, str(tmp_path / "model"), code_paths=[str(source)])
    expected = _kashgari_tags(model, demo_data[2][:20])

    # A fresh interpreter that has never seen company_models: only the model folder.
    script = textwrap.dedent(
        f"""
        import json, mlflow, kashgari_mlflow
        dev_x = json.loads({json.dumps(json.dumps(demo_data[2][:20]))})
        native = kashgari_mlflow.load_model(
            {str(tmp_path / "model")!r}, allow_untrusted_classes=True
        )
        pyfunc = mlflow.pyfunc.load_model({str(tmp_path / "model")!r})
        print(json.dumps({{
            "class": type(native).__module__ + "." + type(native).__name__,
            "native": [[t if not t.startswith("[") else "O" for t in tags]
                       for tags in native.predict(dev_x)],
            "pyfunc": [a["tags"] for a in pyfunc.predict(dev_x)],
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["class"] == "company_models.CompanyNER"
    assert result["native"] == expected
    assert result["pyfunc"] == expected


def test_subclass_outside_code_paths_is_refused(demo_data, tmp_path, monkeypatch):
    from kashgari.embeddings import BareEmbedding

    source = tmp_path / "src" / "rogue_models.py"
    source.parent.mkdir()
    source.write_text(SUBCLASS_MODULE.replace("CompanyNER", "RogueNER"))
    monkeypatch.syspath_prepend(str(source.parent))
    from rogue_models import RogueNER  # type: ignore[import-not-found]

    model = _fit(RogueNER(BareEmbedding(embedding_size=16)), demo_data, epochs=1)
    kashgari_mlflow.save_model(model, str(tmp_path / "model"))
    with pytest.raises(ValueError, match=r"rogue_models\.RogueNER"):
        kashgari_mlflow.load_model(str(tmp_path / "model"))
    trusted = kashgari_mlflow.load_model(str(tmp_path / "model"), allow_untrusted_classes=True)
    assert type(trusted).__name__ == "RogueNER"
