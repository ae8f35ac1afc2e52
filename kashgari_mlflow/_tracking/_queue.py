"""The send queue: params, metrics and tags for one MLflow run, never lost.

Training must not die because the tracking server blinked. Every metric is
queued first; :meth:`RunLogger.flush` sends the queue in batches and keeps
whatever failed for the next flush, so a server that comes back receives
everything, in order, at least once (exactly once unless the answer to a
request the server stored is lost: a timeout, or a connection dropped after
it). With ``strict=True`` the first failure raises instead (see
:mod:`._failures`).

How often a single request is retried is decided in :mod:`._retries`; a batch
the server rejects for good is split to drop only what it refuses
(:mod:`._rejections`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kashgari_mlflow._keys import mlflow_key
from kashgari_mlflow._params import make_safe, mlflow_limits
from kashgari_mlflow._redaction import Redactor
from kashgari_mlflow._tracking._failures import FailurePolicy
from kashgari_mlflow._tracking._rejections import deliver
from kashgari_mlflow._tracking._retries import once_more_if_dropped, quick_retries


class RunLogger:
    """Batch and retry writes to one MLflow run.

    Args:
        client: An :class:`mlflow.MlflowClient`.
        run_id: The run to write to.
        strict: Raise tracking errors instead of warning and retrying later.
        policy: The failure policy to share with the other collaborators of a
            training (overrides ``strict``).
    """

    def __init__(
        self,
        client: Any,
        run_id: str,
        *,
        strict: bool = False,
        policy: FailurePolicy | None = None,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.policy = policy or FailurePolicy(strict)
        self._pending_metrics: list[Any] = []
        self._pending_params: dict[str, str] = {}
        self._pending_tags: dict[str, str] = {}
        # Sends are serialised; the queue itself is only appended to at the tail
        # while a send removes from the head, both atomic under the GIL.
        self._send_lock = threading.Lock()
        self._sending_thread: int | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._background: Future[bool] | None = None

    @property
    def pending(self) -> int:
        """How many metrics, params and tags wait to be sent."""
        return len(self._pending_metrics) + len(self._pending_params) + len(self._pending_tags)

    def queue_metrics(
        self, metrics: Mapping[str, float], step: int, model_id: str | None = None
    ) -> None:
        """Queue metric values for ``step`` (non-finite values are kept; MLflow accepts them).

        A secret inside a key (a per-type metric named after a label) is redacted,
        and characters MLflow rejects are replaced (:func:`kashgari_mlflow._keys.mlflow_key`).
        ``model_id`` (MLflow 3) links the values to that logged model too.
        """
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        redactor = Redactor()
        linked = {"model_id": model_id} if model_id is not None else {}
        self._pending_metrics.extend(
            Metric(
                key=mlflow_key(redactor.key(key)),
                value=float(value),
                timestamp=timestamp,
                step=int(step),
                **linked,
            )
            for key, value in metrics.items()
        )

    def queue_params(self, params: Mapping[str, Any]) -> None:
        """Queue params, skipping any already on the run (continued training).

        A param the run already has with another value is not sent (MLflow would
        reject the whole batch); a warning names it.
        """
        safe = make_safe(params)
        existing = self._existing_params()
        changed = sorted(
            key for key, value in safe.items() if key in existing and existing[key] != value
        )
        if changed:
            self.policy.warn(
                f"Params {changed} already have other values in run {self.run_id} (training "
                "continued with new settings?); MLflow cannot change a param, so the first "
                "values are kept. Start a new run to record the new ones."
            )
        self._pending_params.update(
            {key: value for key, value in safe.items() if key not in existing}
        )

    def queue_tags(self, tags: Mapping[str, Any]) -> None:
        """Queue run tags, secrets redacted (a tag may change; the last value wins)."""
        self._pending_tags.update(Redactor().mapping(tags, "tags"))

    def _existing_params(self) -> dict[str, str]:
        try:
            return dict(self.client.get_run(self.run_id).data.params)
        except Exception as err:  # noqa: BLE001 - any tracking failure is handled the same way
            self._handle_failure(err)
            return {}

    def flush(self) -> bool:
        """Send everything queued; return whether the queue is now empty.

        A failed send returns at once (only a dropped connection is sent once
        more straight away) and is retried at the next flush.
        """
        with quick_retries(retries=0):
            return self._send()

    def flush_until(
        self, seconds: float, first_interval: float = 0.25, max_interval: float = 2.0
    ) -> bool:
        """Retry :meth:`flush` until the queue is empty or ``seconds`` have passed.

        Waits ``first_interval`` after the first failure, doubling up to
        ``max_interval``: a server that dropped one request is retried at once,
        one that is restarting is not hammered.
        """
        deadline = time.monotonic() + seconds
        interval = first_interval
        while not self.flush():
            if (
                self.policy.strict
                or self._interrupts_own_send()
                or time.monotonic() + interval > deadline
            ):
                return False
            time.sleep(interval)
            interval = min(2 * interval, max_interval)
        return True

    def dump_pending(self) -> str | None:
        """Move whatever could not be sent to a JSON file; return its path (None if nothing)."""
        if not self.pending:
            return None
        handle, path = tempfile.mkstemp(prefix=f"kashgari-mlflow-{self.run_id}-", suffix=".json")
        payload = {
            "run_id": self.run_id,
            "params": self._pending_params,
            "tags": self._pending_tags,
            "metrics": [
                {"key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp}
                for m in self._pending_metrics
            ],
        }
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=1)
        self._pending_metrics.clear()
        self._pending_params.clear()
        self._pending_tags.clear()
        return path

    @property
    def has_background_flush(self) -> bool:
        """Whether a background flush was started and not yet waited for."""
        return self._background is not None

    def flush_in_background(self) -> None:
        """Start a :meth:`flush` on a worker thread (one at a time) and return at once.

        Raises:
            Exception: With ``strict=True``, the error of the previous background flush.
        """
        previous = self._background
        if previous is not None:
            if not previous.done():
                return  # the running flush sends what was queued meanwhile, or the next one will
            previous.result()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kashgari-mlflow")
        self._background = self._executor.submit(self.flush)

    def wait_for_background(self) -> None:
        """Let a background flush finish and stop the worker thread.

        Raises:
            Exception: With ``strict=True``, the error of the background flush.
        """
        background, self._background = self._background, None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if background is not None:
            background.result()

    def _send(self) -> bool:
        if self._interrupts_own_send():
            return False
        with self._send_lock:
            self._sending_thread = threading.get_ident()
            try:
                return self._send_locked()
            finally:
                self._sending_thread = None

    def _interrupts_own_send(self) -> bool:
        # A signal handler (SIGTERM) runs on the main thread between two bytecodes,
        # possibly in the middle of that thread's own send: waiting for the lock would
        # never end, and sending the batch in flight again could log it twice.
        return self._sending_thread == threading.get_ident()

    def _send_locked(self) -> bool:
        from mlflow.entities import Param, RunTag

        _, _, per_batch = mlflow_limits()
        try:
            for kind, pending, entity in (
                ("params", self._pending_params, Param),
                ("tags", self._pending_tags, RunTag),
            ):
                while pending:
                    batch = [entity(key, pending[key]) for key in list(pending)[:per_batch]]
                    deliver(batch, self._sender(kind), _forget_keys(pending), self._refused)
            metrics_per_batch = 1000  # mlflow.utils.validation.MAX_METRICS_PER_BATCH
            while self._pending_metrics:
                batch_metrics = self._pending_metrics[:metrics_per_batch]
                deliver(batch_metrics, self._sender("metrics"), self._forget_metrics, self._refused)
        except Exception as err:  # noqa: BLE001 - any tracking failure is handled the same way
            self._handle_failure(err)
            return False
        return True

    def _sender(self, kind: str) -> Any:
        def send(batch: Any) -> None:
            once_more_if_dropped(
                lambda: self.client.log_batch(self.run_id, **{kind: list(batch)}, synchronous=True)
            )

        return send

    def _forget_metrics(self, batch: Any) -> None:
        # Batches leave from the head, in order, while training appends at the tail.
        del self._pending_metrics[: len(batch)]

    def _refused(self, item: Any, err: Exception) -> None:
        self.policy.fail(
            err,
            f"MLflow run {self.run_id} refused {type(item).__name__.lower()} {item.key!r} "
            f"({err}); it was dropped, everything else is sent.",
        )

    def _handle_failure(self, err: Exception) -> None:
        self.policy.fail(
            err,
            f"Could not write to MLflow run {self.run_id} ({type(err).__name__}: {err}). "
            "Training continues; metrics are kept and sent when the server answers again "
            "(at the latest when training ends). Pass strict=True to stop on such errors.",
            once=True,
        )

    def drain(self, seconds: float) -> bool:
        """Send everything before the run closes: wait up to ``seconds`` for the server.

        What still cannot be sent is saved to a local JSON file, named in a warning.

        Returns:
            Whether everything was sent.
        """
        self.wait_for_background()
        if self.flush_until(seconds):
            return True
        path = self.dump_pending()
        self.policy.warn(
            f"The tracking server did not take the last metrics/params of run "
            f"{self.run_id} within {seconds:g} s; they were saved to {path}."
        )
        return False


def _forget_keys(pending: dict[str, str]) -> Any:
    def forget(batch: Any) -> None:
        for item in batch:
            pending.pop(item.key, None)

    return forget
