"""The one failure policy, and what the collaborators send (redacted), with a fake client."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from kashgari_mlflow import TrackingWarning
from kashgari_mlflow._tracking._artifacts import MetricHistory, log_reports
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._queue import RunLogger
from kashgari_mlflow._tracking._runs import TrackedRun

SECRET = "s3cr3t-value-123456"


class FakeClient:
    """Records what an MlflowClient would send; raises while ``down``."""

    def __init__(self, down: int = 0) -> None:
        self.down = down
        self.batches: list[dict[str, Any]] = []
        self.artifacts: dict[str, Any] = {}

    def _maybe_fail(self) -> None:
        if self.down:
            self.down -= 1
            raise ConnectionError("tracking server unreachable")

    def get_run(self, run_id: str) -> Any:
        from types import SimpleNamespace

        self._maybe_fail()
        return SimpleNamespace(data=SimpleNamespace(params={}))

    def log_batch(self, run_id: str, **entities: Any) -> None:
        self._maybe_fail()
        self.batches.append(entities)

    def log_dict(self, run_id: str, content: Any, path: str) -> None:
        self._maybe_fail()
        self.artifacts[path] = content

    def log_text(self, run_id: str, content: str, path: str) -> None:
        self._maybe_fail()
        self.artifacts[path] = content

    def log_artifact(self, run_id: str, local_path: str, folder: str) -> None:
        self.artifacts[f"{folder}/{Path(local_path).name}"] = local_path

    def sent_metrics(self) -> list[tuple[str, float, int]]:
        return [
            (m.key, m.value, m.step) for batch in self.batches for m in batch.get("metrics", [])
        ]


def test_strict_raises_the_original_error() -> None:
    with pytest.raises(ConnectionError, match="unreachable"):
        RunLogger(FakeClient(down=1), "run", strict=True).queue_params({"a": 1})
    with pytest.raises(KeyError, match="boom"), FailurePolicy(strict=True).guard("do it"):
        raise KeyError("boom")


def test_non_strict_warns_once_and_keeps_every_metric_for_the_next_flush() -> None:
    client = FakeClient(down=2)
    sender = RunLogger(client, "run")
    sender.queue_metrics({"loss": 0.5}, step=0)
    with pytest.warns(TrackingWarning, match="Training continues; metrics are kept") as caught:
        assert not sender.flush()
        sender.queue_metrics({"loss": 0.4}, step=1)
        assert not sender.flush()
    assert len(caught) == 1  # one warning for the whole outage
    assert sender.pending == 2 and sender.policy.failures == 2
    assert sender.flush()
    assert client.sent_metrics() == [("loss", 0.5, 0), ("loss", 0.4, 1)]


def test_guard_warns_with_what_failed_and_training_goes_on() -> None:
    policy = FailurePolicy()
    with (
        pytest.warns(TrackingWarning, match=r"Could not log the datasets: .*unreachable"),
        policy.guard("log the datasets"),
    ):
        raise ConnectionError("tracking server unreachable")
    assert policy.failures == 1


def test_guard_fallback_replaces_the_warning_unless_strict() -> None:
    kept: list[Exception] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from the policy itself
        with FailurePolicy().guard("log the model", fallback=kept.append):
            raise OSError("upload failed")
    assert [str(err) for err in kept] == ["upload failed"]
    with (
        pytest.raises(OSError, match="upload failed"),
        FailurePolicy(strict=True).guard("log the model", fallback=kept.append),
    ):
        raise OSError("upload failed")
    assert len(kept) == 1


def test_drain_saves_what_the_server_never_took_to_a_file() -> None:
    sender = RunLogger(FakeClient(down=10**6), "run")
    sender.queue_metrics({"loss": 0.25}, step=3)
    with pytest.warns(TrackingWarning) as caught:
        assert not sender.drain(0.1)
    saved = [str(w.message) for w in caught if "were saved to" in str(w.message)]
    assert len(saved) == 1
    path = saved[0].split("saved to ")[1].rstrip(".")
    payload = json.loads(Path(path).read_text())
    assert payload["metrics"][0]["value"] == 0.25 and payload["metrics"][0]["step"] == 3
    assert sender.pending == 0
    Path(path).unlink()


def test_metric_keys_are_redacted_and_made_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    client = FakeClient()
    sender = RunLogger(client, "run")
    sender.queue_metrics({f"val_entity_f1/{SECRET}": 1.0, "val_entity_f1/a:b": 0.5}, step=0)
    assert sender.flush()
    keys = [key for key, _, _ in client.sent_metrics()]
    assert keys == ["val_entity_f1/REDACTED", "val_entity_f1/a_b"]


def test_params_and_tags_the_queue_sends_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    client = FakeClient()
    sender = RunLogger(client, "run")
    with pytest.warns(UserWarning, match=r"Redacted params \['embedding.url'\]"):
        sender.queue_params({"embedding.url": f"https://hub/?t={SECRET}", "epochs": 2})
    with pytest.warns(UserWarning, match=r"Redacted tags \['note'\]"):
        sender.queue_tags({"note": f"built with {SECRET}"})
    assert sender.flush()
    sent = json.dumps([repr(batch) for batch in client.batches])
    assert SECRET not in sent and "***" in sent


class _FakeKashgari:
    def to_dict(self) -> dict[str, Any]:
        return {"tf_model": {}, "embedding": {"config": {"url": f"https://hub/?t={SECRET}"}}}

    embedding = None


class _FakeNetwork:
    def summary(self, print_fn: Any, line_length: int) -> None:
        print_fn(f"layer named {SECRET}")


@pytest.fixture
def labels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The fake model's labels (Kashgari's processors are not faked)."""
    import kashgari_mlflow._tracking._artifacts as artifacts

    labels = ["PER", SECRET]
    monkeypatch.setattr(artifacts, "model_params", lambda kash_model: {"labels": labels})
    return labels


def test_reports_and_config_artifacts_are_redacted(
    monkeypatch: pytest.MonkeyPatch, labels: list[str]
) -> None:
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    client = FakeClient()
    run = TrackedRun(RunLogger(client, "run"), owned=False, final_flush_seconds=0)
    with pytest.warns(UserWarning, match="Redacted artifact kashgari/"):
        log_reports(run, _FakeKashgari(), _FakeNetwork(), "labeling", None, MetricHistory())
    assert {
        "kashgari/labels.json",
        "kashgari/model_config.json",
        "kashgari/model_summary.txt",
    } <= set(client.artifacts)
    assert SECRET not in json.dumps({k: str(v) for k, v in client.artifacts.items()})


def test_a_report_upload_failure_warns_and_strict_raises(labels: list[str]) -> None:
    for strict in (False, True):
        client = FakeClient(down=1)
        run = TrackedRun(
            RunLogger(client, "run", strict=strict), owned=False, final_flush_seconds=0
        )
        args = (run, _FakeKashgari(), _FakeNetwork(), "labeling", None, MetricHistory())
        if strict:
            with pytest.raises(ConnectionError, match="unreachable"):
                log_reports(*args)
        else:
            with pytest.warns(TrackingWarning, match="Could not log the run's reports: .*unreach"):
                log_reports(*args)
