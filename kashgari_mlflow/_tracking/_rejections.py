"""Tell a request the server refuses for good from one that may pass later.

A metric key the server rejects, or a param longer than an older server
allows, fails its whole batch with HTTP 400 however often it is sent. Kept in
the queue, it would hold back every later metric and be retried every epoch;
such a batch is split so that only what the server refuses is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Item = TypeVar("Item")

#: Status codes of a request that will fail the same way when sent again
#: (400 Bad Request, 413 Payload Too Large, 422 Unprocessable); 401/403/404 are
#: left out: a credential or a run can be fixed while training goes on.
_PERMANENT_STATUS = frozenset({400, 413, 422})


def is_permanent_rejection(err: BaseException) -> bool:
    """Whether the server refused the request for what it contains."""
    status = getattr(err, "get_http_status_code", None)
    if not callable(status):
        return False
    try:
        return int(status()) in _PERMANENT_STATUS
    except (TypeError, ValueError):
        return False


def deliver(
    items: Sequence[Item],
    send: Callable[[Sequence[Item]], Any],
    sent: Callable[[Sequence[Item]], None],
    refused: Callable[[Item, Exception], None],
) -> None:
    """Send ``items`` as one batch; if the server refuses it for good, one by one.

    Args:
        items: What to send.
        send: Sends a batch; raises on failure.
        sent: Called with every batch that reached the server (or was dropped), so
            the caller takes it off its queue before anything else can fail.
        refused: Called with each item the server refuses on its own; the item
            counts as delivered.

    Raises:
        Exception: Any error that is not a permanent rejection (the items not yet
            passed to ``sent`` stay with the caller).
    """
    try:
        send(items)
    except Exception as err:
        if not is_permanent_rejection(err):
            raise
        if len(items) == 1:
            refused(items[0], err)
            sent(items)
            return
        for item in items:
            deliver([item], send, sent, refused)
        return
    sent(items)
