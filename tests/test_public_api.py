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
