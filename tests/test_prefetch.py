"""The end-of-fit imports run in a background thread, once per process."""

import sys
import time
from pathlib import Path

import pytest

from kashgari_mlflow._tracking import _prefetch


@pytest.fixture
def fresh_prefetch(monkeypatch):
    monkeypatch.setattr(_prefetch, "_started", False)
    monkeypatch.setattr(_prefetch, "_thread", None)
    monkeypatch.setattr(_prefetch, "_gave_up", False)


def test_modules_are_imported_in_a_daemon_thread_once(fresh_prefetch, tmp_path, monkeypatch):
    (tmp_path / "end_of_fit_probe.py").write_text(
        "import threading\nTHREAD = threading.current_thread().name\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "end_of_fit_probe", raising=False)

    thread = _prefetch.import_in_background(["end_of_fit_probe"])
    assert thread is not None and thread.daemon
    thread.join(timeout=30)
    assert sys.modules["end_of_fit_probe"].THREAD == "kashgari-mlflow-imports"
    assert _prefetch.import_in_background(["end_of_fit_probe"]) is None


def test_a_module_that_fails_to_import_is_left_to_its_user(fresh_prefetch, tmp_path, monkeypatch):
    (tmp_path / "broken_probe.py").write_text("raise ImportError('no such backend')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    thread = _prefetch.import_in_background(["broken_probe", "json"])
    assert thread is not None
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "broken_probe" not in sys.modules
    with pytest.raises(ImportError, match="no such backend"):
        import broken_probe  # noqa: F401


def test_the_end_of_fit_modules_are_the_charts(fresh_prefetch):
    from kashgari_mlflow import _plots

    source = Path(_plots.__file__).read_text()
    for name in _prefetch.END_OF_FIT_MODULES:
        assert name in source, name


def test_waiting_for_the_background_imports_waits_until_they_are_done(
    fresh_prefetch, tmp_path, monkeypatch
):
    (tmp_path / "slow_probe.py").write_text("import time\ntime.sleep(1.0)\nDONE = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_probe", raising=False)
    thread = _prefetch.import_in_background(["slow_probe"])
    assert thread is not None
    _prefetch.wait_for_background_imports()
    assert not thread.is_alive() and sys.modules["slow_probe"].DONE


def test_a_wait_that_timed_out_is_not_repeated(fresh_prefetch, tmp_path, monkeypatch):
    (tmp_path / "stuck_probe.py").write_text("import time\ntime.sleep(1.5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "stuck_probe", raising=False)
    thread = _prefetch.import_in_background(["stuck_probe"])
    assert thread is not None
    assert _prefetch.wait_for_background_imports(timeout=0.1) is False
    started = time.monotonic()
    assert _prefetch.wait_for_background_imports(timeout=30) is False
    assert time.monotonic() - started < 0.5
    thread.join(timeout=30)
    assert _prefetch.wait_for_background_imports() is True


def test_the_charts_wait_for_the_background_imports(fresh_prefetch, tmp_path, monkeypatch):
    # Importing matplotlib's modules from two threads at once can hand one of them a
    # half-initialised module; the charts must not import while the thread still does.
    from kashgari_mlflow import _plots

    waits = []
    monkeypatch.setattr(_prefetch, "wait_for_background_imports", lambda: waits.append(1) or True)
    history = {"loss": [(0, 1.0), (1, 0.5)], "val_entity_f1": [(0, 0.2), (1, 0.4)]}
    assert _plots.learning_curves(history, str(tmp_path / "curves.png"))
    assert len(waits) == 1
    assert _plots.f1_by_type({"PER": 0.5, "LOC": 0.7}, str(tmp_path / "bars.png"), "F1")
    assert len(waits) == 2
    confusion = {"labels": ["LOC", "PER"], "gold_by_predicted": [[3, 1], [0, 2]]}
    assert _plots.type_confusion_chart(confusion, str(tmp_path / "heat.png"), "types")
    assert len(waits) == 3


def test_charts_are_skipped_with_an_error_when_the_imports_never_finish(
    fresh_prefetch, tmp_path, monkeypatch
):
    from kashgari_mlflow import _plots

    monkeypatch.setattr(_prefetch, "wait_for_background_imports", lambda: False)
    with pytest.raises(RuntimeError, match="still being imported in the background"):
        _plots.f1_by_type({"PER": 0.5}, str(tmp_path / "bars.png"), "F1")
    assert not (tmp_path / "bars.png").exists()
