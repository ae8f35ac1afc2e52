"""Plain pip, in a fresh virtualenv: a saved model's requirements, then the README's recipe."""

import json
import subprocess
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ._model_server import ModelServer
from .conftest import ROOT

pytestmark = pytest.mark.slow

# Kept in sync with the "Install with pip" section of the README.
STACK = [
    "tensorflow==2.15.1",
    "tensorflow-addons==0.23.0",
    "gensim>=4.3",
    "numpy<2",
    "pandas",
    "tqdm",
    "scikit-learn",
    "mlflow>=3.17,<3.18",
]
NO_DEPS = ["kashgari==2.0.2", "bert4keras==0.11.5"]


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


def pip(python: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def run_the_readme_recipe(python: Path, folder: Path) -> None:
    """Install the README's pip recipe into ``python``'s venv and run the whole loop there."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install --no-deps kashgari==2.0.2 bert4keras==0.11.5" in readme
    pip(python, "install", *STACK)
    pip(python, "install", "--no-deps", *NO_DEPS)
    pip(python, "install", str(ROOT))
    script = folder / "loop.py"
    script.write_text(
        "import sys, mlflow\n"
        f"sys.path.insert(0, {str(ROOT / 'examples')!r})\n"
        "from demo_corpus import demo_corpus\n"
        "from kashgari.tasks.labeling import BiGRU_Model\n"
        "from kashgari_mlflow import MlflowCallback\n"
        "x, y, dx, dy = demo_corpus(120, 30)\n"
        "cb = MlflowCallback()\n"
        "BiGRU_Model().fit(x, y, dx, dy, epochs=1, callbacks=[cb], fit_kwargs={'verbose': 0})\n"
        "m = mlflow.pyfunc.load_model(f'runs:/{cb.active_run_id}/model')\n"
        "print(len(m.predict(['John lives in New York'])[0]['tags']))\n"
    )
    result = subprocess.run(
        [str(python), str(script)], cwd=folder, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "5"


def requirement_name(line: str) -> str:
    return canonicalize_name(Requirement(line).name)


@pytest.mark.timeout(3600)  # a fresh TensorFlow install, a server start, a training
def test_plain_pip_serves_a_bert_model_from_its_requirements_then_runs_the_readme_recipe(
    saved_model_dir: Path, demo_data, tmp_path: Path
):
    """A model's requirements.txt, then the README's recipe, in one fresh virtualenv.

    First the requirements of the suite's BiLSTM-CRF model, with plain pip; a BERT
    model's requirements are the same file. There, without Kashgari, bert4keras,
    gensim or tensorflow-addons (checked), the BiLSTM-CRF model predicts in process
    and the BERT model is served over REST by the virtualenv's own python and
    mlflow (``--env-manager local`` there). MLflow's ``virtualenv``/``uv`` managers
    would build yet another environment from the same ``requirements.txt``, with
    pyenv or uv rather than plain pip.

    Then the README's pip recipe, on top, installs Kashgari and this package and
    runs the whole loop. Installing TensorFlow into a second virtualenv would take
    minutes more; the recipe names every requirement of the model itself (checked),
    so what the first step installed is what the recipe would have installed.
    """
    from kashgari.embeddings import TransformerEmbedding
    from kashgari.tasks.labeling import BiLSTM_CRF_Model

    import kashgari_mlflow
    from tests._bert import random_bert_checkpoint
    from tests.test_embeddings import _kashgari_tags, _small_model_hyper, _vocabulary

    files = random_bert_checkpoint(tmp_path / "bert", _vocabulary(demo_data))
    embedding = TransformerEmbedding(*map(str, files), model_type="bert")
    model = BiLSTM_CRF_Model(embedding, hyper_parameters=_small_model_hyper(BiLSTM_CRF_Model))
    # Built, not trained: the served graph must answer what Kashgari answers for any
    # weights, and training a BERT takes minutes on a busy machine.
    model.build_model(*demo_data[:2])
    sentences = demo_data[2][:20]
    expected = _kashgari_tags(model, sentences)
    bert_dir = tmp_path / "bert-model"
    kashgari_mlflow.save_model(model, str(bert_dir))
    requirements = saved_model_dir / "requirements.txt"
    assert (bert_dir / "requirements.txt").read_text() == requirements.read_text()

    python = make_venv(tmp_path / "venv")
    pip(python, "install", "-r", str(requirements))
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print([n for n in "
         "('kashgari', 'kashgari_mlflow', 'bert4keras', 'gensim', 'tensorflow_addons') "
         "if u.find_spec(n)])"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,  # not the repo root
    )  # fmt: skip
    assert probe.stdout.strip() == "[]", probe.stderr[-2000:]

    code = (
        "import json, mlflow\n"
        f"m = mlflow.pyfunc.load_model({str(saved_model_dir)!r})\n"
        "print(json.dumps(m.predict([['John', 'lives', 'in', 'New', 'York']])[0]['tags']))\n"
    )
    result = subprocess.run(
        [str(python), "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    tags = json.loads(result.stdout.strip().splitlines()[-1])
    assert tags == ["B-PER", "O", "O", "B-LOC", "I-LOC"]

    server = ModelServer(str(bert_dir), tmp_path / "serve.log", python=str(python))
    server.start(timeout=600)
    try:
        status, answer = server.post({"inputs": sentences}, timeout=300)
    finally:
        server.stop()
    assert status == 200, answer
    assert [item["tags"] for item in answer["predictions"]] == expected

    stack_names = {requirement_name(line) for line in STACK}
    assert {requirement_name(line) for line in requirements.read_text().split()} <= stack_names
    run_the_readme_recipe(python, tmp_path)
