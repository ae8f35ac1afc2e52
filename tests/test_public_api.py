import subprocess
import sys

import kashgari_mlflow


def test_all_is_sorted_and_every_name_resolves():
    assert kashgari_mlflow.__all__ == sorted(kashgari_mlflow.__all__)
    for name in kashgari_mlflow.__all__:
        assert getattr(kashgari_mlflow, name) is not None
    assert kashgari_mlflow.FLAVOR_NAME == "kashgari"


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        kashgari_mlflow.nope  # noqa: B018


def test_import_does_not_pull_tensorflow_kashgari_or_mlflow():
    code = (
        "import sys, kashgari_mlflow; "
        "print(sorted(m for m in ('tensorflow', 'kashgari', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exceptions_users_catch_are_public_and_cheap_to_import():
    assert issubclass(kashgari_mlflow.TrackingWarning, UserWarning)
    assert issubclass(kashgari_mlflow.ModelFilesError, ValueError)
    assert issubclass(kashgari_mlflow.IncompleteModelError, RuntimeError)
    code = (
        "import sys; "
        "from kashgari_mlflow import IncompleteModelError, ModelFilesError, TrackingWarning; "
        "print(sorted(m for m in ('tensorflow', 'kashgari', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_changes_nothing_in_the_process():
    # Importing must not patch gensim, add import hooks or take over sys.excepthook.
    code = (
        "import sys; hooks = list(sys.meta_path); hook = sys.excepthook; "
        "import kashgari_mlflow; "
        "from gensim.models.keyedvectors import KeyedVectors; "
        "v = KeyedVectors(vector_size=2); v.add_vectors(['a'], [[0, 1]])\n"
        "try:\n    v.index2word; gensim3_names = True\n"
        "except AttributeError:\n    gensim3_names = False\n"
        "print(sys.meta_path == hooks, sys.excepthook is hook, gensim3_names)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False"]


def test_support_gensim4_gives_word_embedding_the_gensim3_names():
    code = (
        "import kashgari_mlflow; kashgari_mlflow.support_gensim4(); "
        "from gensim.models.keyedvectors import KeyedVectors; "
        "v = KeyedVectors(vector_size=2); v.add_vectors(['a', 'b'], [[0, 1], [1, 0]]); "
        "print(v.index2word)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['a', 'b']"
