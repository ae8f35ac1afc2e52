"""Where a run's checkpoints live: logged models on MLflow 3, run artifacts on MLflow 2.

On MLflow 3 each checkpoint is a logged model of the run (``checkpoint-<step>``,
tagged :data:`CHECKPOINT_TAG`), finalized ``READY`` only once its files are
uploaded, recorded as the run's output at ``step``, with the epoch's metrics
linked to it, so ``mlflow.search_logged_models`` ranks them. On MLflow 2 it is
the run folder ``checkpoints/step-<step>``. Either way the run's tag
:data:`LATEST_TAG` names the newest complete checkpoint: it is written after
the upload, so it never points at a partial one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

#: Tag on a checkpoint's logged model (value ``"true"``).
CHECKPOINT_TAG = "kashgari_mlflow.checkpoint"
#: Run tag: JSON ``{"step": ..., "ref": ...}`` of the newest complete checkpoint.
LATEST_TAG = "kashgari_mlflow.latest_checkpoint"
_RUN_FOLDER = "checkpoints"


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint in the tracking store.

    Attributes:
        step: The step of the epoch it holds.
        ref: The logged model's id (MLflow 3) or the run artifact folder (MLflow 2).
    """

    step: int
    ref: str

    def to_tag(self) -> str:
        """The value of :data:`LATEST_TAG` pointing at this checkpoint."""
        return json.dumps({"step": self.step, "ref": self.ref})


def latest_checkpoint(client: Any, run_id: str) -> StoredCheckpoint | None:
    """The newest complete checkpoint of the run, from its :data:`LATEST_TAG`."""
    tag = client.get_run(run_id).data.tags.get(LATEST_TAG)
    if not tag:
        return None
    try:
        data = json.loads(tag)
        return StoredCheckpoint(int(data["step"]), str(data["ref"]))
    except (KeyError, TypeError, ValueError):
        return None


class CheckpointStore:
    """Upload, download and delete one run's checkpoints.

    Args:
        client: The run's ``MlflowClient``.
        run_id: The run.
    """

    def __init__(self, client: Any, run_id: str) -> None:
        self.client = client
        self.run_id = run_id
        self.logged_models = hasattr(client, "create_logged_model")

    def begin(self, step: int) -> str | None:
        """Reserve the checkpoint of ``step``: its logged model id (MLflow 3), else None.

        The epoch's metrics are sent linked to that id, so the logged model lists them.
        """
        if not self.logged_models:
            return None
        experiment_id = self.client.get_run(self.run_id).info.experiment_id
        model = self.client.create_logged_model(
            experiment_id,
            name=f"checkpoint-{step}",
            source_run_id=self.run_id,
            tags={CHECKPOINT_TAG: "true", "step": str(step)},
        )
        return str(model.model_id)

    def artifact_path(self, step: int) -> str:
        """The run folder of the checkpoint of ``step`` (MLflow 2)."""
        return f"{_RUN_FOLDER}/step-{step:06d}"

    def upload(self, step: int, folder: str, model_id: str | None) -> StoredCheckpoint:
        """Upload the checkpoint folder; point :data:`LATEST_TAG` at it once it is complete."""
        if model_id is not None:
            from mlflow.entities import LoggedModelOutput, LoggedModelStatus

            self.client.log_model_artifacts(model_id, folder)
            self.client.finalize_logged_model(model_id, LoggedModelStatus.READY)
            self.client.log_outputs(self.run_id, [LoggedModelOutput(model_id, step)])
            stored = StoredCheckpoint(step, model_id)
        else:
            path = self.artifact_path(step)
            self.client.log_artifacts(self.run_id, folder, path)
            stored = StoredCheckpoint(step, path)
        self.client.set_tag(self.run_id, LATEST_TAG, stored.to_tag())
        return stored

    def abandon(self, model_id: str) -> None:
        """Mark a reserved checkpoint whose upload failed ``FAILED``."""
        from mlflow.entities import LoggedModelStatus

        self.client.finalize_logged_model(model_id, LoggedModelStatus.FAILED)

    def download(self, stored: StoredCheckpoint, destination: str) -> str:
        """Download a checkpoint; return the local folder holding ``state.json``."""
        import mlflow

        if stored.ref.startswith("m-") and self.logged_models:
            uri = f"models:/{stored.ref}"
        else:
            uri = f"runs:/{self.run_id}/{stored.ref}"
        return str(mlflow.artifacts.download_artifacts(uri, dst_path=destination))

    def delete(self, stored: StoredCheckpoint) -> None:
        """Delete a checkpoint's files (and its logged model) from the store."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        if stored.ref.startswith("m-") and self.logged_models:
            model = self.client.get_logged_model(stored.ref)
            get_artifact_repository(model.artifact_location).delete_artifacts()
            self.client.delete_logged_model(stored.ref)
            return
        root = self.client.get_run(self.run_id).info.artifact_uri
        get_artifact_repository(root).delete_artifacts(stored.ref)


def to_keep(
    checkpoints: list[dict[str, Any]], keep: int, higher_is_better: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split ``[{"step", "ref", "value"}]`` into those kept and those deleted.

    The newest (to resume from) and the best by ``value`` (None: never best) are
    always kept; the rest of the ``keep`` places go to the newest others.

    Returns:
        ``(kept, deleted)``, each in step order.
    """
    ordered = sorted(checkpoints, key=lambda c: c["step"])
    if len(ordered) <= keep:
        return ordered, []
    scored = [c for c in ordered if c.get("value") is not None]
    chosen = {ordered[-1]["step"]}
    if scored:
        # A tie goes to the earlier epoch, as for the best epoch's logged model.
        if higher_is_better:
            best = max(scored, key=lambda c: (c["value"], -c["step"]))
        else:
            best = min(scored, key=lambda c: (c["value"], c["step"]))
        chosen.add(best["step"])
    for checkpoint in reversed(ordered):
        if len(chosen) >= keep:
            break
        chosen.add(checkpoint["step"])
    kept = [c for c in ordered if c["step"] in chosen]
    return kept, [c for c in ordered if c["step"] not in chosen]


def local_folder(root: str, step: int) -> str:
    """The local folder a checkpoint of ``step`` is written to before upload."""
    return os.path.join(root, f"step-{step:06d}")
