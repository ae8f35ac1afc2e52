"""The one failure policy of tracking: raise with ``strict=True``, else warn and go on.

Training must not die because the tracking server blinked (MLflow's own
``ExceptionSafeClass`` makes the same choice for autologging); a user who
prefers a crash passes ``strict=True``. Every tracking failure goes through
:class:`FailurePolicy`, so the choice is made in one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class TrackingWarning(UserWarning):
    """Tracking failed; training goes on and the data is kept for a retry."""


class FailurePolicy:
    """Raise tracking errors (``strict``) or turn them into a :class:`TrackingWarning`.

    Args:
        strict: Raise instead of warning.
    """

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.failures = 0
        self._warned_once = False

    def warn(self, message: str, stacklevel: int = 3) -> None:
        """Warn about a failure that has already been dealt with (data saved elsewhere)."""
        warnings.warn(message, TrackingWarning, stacklevel=stacklevel + 1)

    def fail(self, err: Exception, message: str, *, once: bool = False) -> None:
        """Raise ``err`` when strict; else warn with ``message`` (only the first time if ``once``).

        Raises:
            Exception: ``err`` itself, when strict.
        """
        self.failures += 1
        if self.strict:
            raise err
        if once and self._warned_once:
            return
        self._warned_once = self._warned_once or once
        self.warn(message, stacklevel=4)

    @contextmanager
    def guard(
        self, what: str, fallback: Callable[[Exception], None] | None = None
    ) -> Iterator[None]:
        """Run a block whose failure must not stop training.

        Args:
            what: What the block does, for the warning (``"log the datasets"``).
            fallback: Called with the error instead of warning when not strict
                (e.g. save the model locally and say where).

        Raises:
            Exception: The block's error, when strict.
        """
        try:
            yield
        except Exception as err:  # noqa: BLE001 - every tracking failure follows the policy
            if fallback is not None and not self.strict:
                self.failures += 1
                fallback(err)
                return
            self.fail(err, f"Could not {what}: {err}")
