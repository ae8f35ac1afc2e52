"""Tokenizers saved with the model, long sentences, threads and the registry."""

import random
import threading

import mlflow
import pytest

import kashgari_mlflow

from .conftest import make_tiny_model

PEOPLE = ["张三", "李四", "王五", "赵六"]
CITIES = ["北京", "上海", "广州", "深圳"]
TEMPLATES = ["{P}在{C}工作", "{P}去了{C}", "{P}住在{C}", "昨天{P}到{C}"]


def chinese_corpus(n=200, seed=3):
    rng = random.Random(seed)
    x, y = [], []
    for _ in range(n):
        person, city = rng.choice(PEOPLE), rng.choice(CITIES)
        text = rng.choice(TEMPLATES).replace("{P}", person).replace("{C}", city)
        tags = ["O"] * len(text)
        for entity, kind in ((person, "PER"), (city, "LOC")):
            start = text.index(entity)
            tags[start] = f"B-{kind}"
            for i in range(start + 1, start + len(entity)):
                tags[i] = f"I-{kind}"
        x.append(list(text))
        y.append(tags)
    return x, y


@pytest.fixture(scope="module")
def chinese_model():
    import numpy as np
    import tensorflow as tf

    np.random.seed(5)
    tf.random.set_seed(5)
    x, y = chinese_corpus(n=320)
    model = make_tiny_model(data=(x, y))
    model.fit(x, y, batch_size=32, epochs=15, fit_kwargs={"verbose": 0})
    return model


@pytest.mark.slow  # its model trains 15 epochs
def test_character_tokenizer_gives_entities_with_exact_offsets(chinese_model, tmp_path):
    kashgari_mlflow.save_model(chinese_model, str(tmp_path / "zh"), tokenizer="char")
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "zh"))
    text = "张三在北京工作"
    (answer,) = pyfunc.predict(text)
    assert answer["tokens"] == list(text)
    found = [(e["type"], e["text"], e["char_start"], e["char_end"]) for e in answer["entities"]]
    # The two names are found at their exact places (a small model trained for seconds
    # may add a stray one-character entity, whose offsets are checked all the same).
    assert {("PER", "张三", 0, 2), ("LOC", "北京", 3, 5)} <= set(found)
    for _, entity_text, start, end in found:
        assert text[start:end] == entity_text
    (spaced,) = pyfunc.predict("李四 去了 上海")
    for entity in spaced["entities"]:
        assert "李四 去了 上海"[entity["char_start"] : entity["char_end"]] == entity["text"]


def test_custom_tokenizer_ships_with_code_paths(trained_model, tmp_path, monkeypatch):
    module = tmp_path / "src" / "my_tokenizers.py"
    module.parent.mkdir()
    module.write_text(
        "def comma_split(text):\n    return [t for t in text.replace(',', ' , ').split()]\n"
    )
    monkeypatch.syspath_prepend(str(module.parent))
    import my_tokenizers

    kashgari_mlflow.save_model(
        trained_model, str(tmp_path / "m"), tokenizer=my_tokenizers.comma_split,
        code_paths=[str(module)],
    )  # fmt: skip
    (answer,) = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict("John,lives in Paris")
    assert answer["tokens"] == ["John", ",", "lives", "in", "Paris"]
    assert answer["text"][answer["entities"][-1]["char_start"] :] == "Paris"


def test_tokenizer_that_cannot_be_reimported_is_refused(trained_model, tmp_path):
    with pytest.raises(ValueError, match="cannot be saved by name"):
        kashgari_mlflow.save_model(
            trained_model, str(tmp_path / "m"), tokenizer=lambda s: s.split()
        )


def test_sentences_longer_than_max_position_get_a_tag_per_token(demo_data, tmp_path):
    from kashgari.embeddings import BareEmbedding
    from kashgari.tasks.labeling import BiLSTM_Model

    train_x, train_y, _, _ = demo_data
    model = BiLSTM_Model(embedding=BareEmbedding(embedding_size=8, max_position=8))
    model.fit(train_x[:64], train_y[:64], epochs=1, fit_kwargs={"verbose": 0})
    kashgari_mlflow.save_model(model, str(tmp_path / "m"))
    long_sentence = ["John", "lives", "in", "New", "York"] * 7
    (answer,) = mlflow.pyfunc.load_model(str(tmp_path / "m")).predict([long_sentence])
    assert len(answer["tags"]) == len(long_sentence) == 35


def test_eight_threads_get_the_same_answers_as_one(saved_pyfunc, demo_data):
    pyfunc = saved_pyfunc
    sentences = [" ".join(tokens) for tokens in demo_data[2]]
    expected = pyfunc.predict(sentences)
    results: dict[int, object] = {}

    def work(index: int) -> None:
        results[index] = pyfunc.predict(sentences, params={"batch_size": 8 + index})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(results) == 8
    assert all(result == expected for result in results.values())


def test_registered_model_alias_loads(trained_model, tracking_uri):
    with mlflow.start_run():
        info = kashgari_mlflow.log_model(trained_model, "model", registered_model_name="ner")
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("ner", "champion", info.registered_model_version)
    pyfunc = mlflow.pyfunc.load_model("models:/ner@champion")
    assert pyfunc.predict(["John lives in New York"])[0]["tokens"][0] == "John"
    native = kashgari_mlflow.load_model("models:/ner@champion")
    assert type(native).__name__ == "BiLSTM_CRF_Model"
