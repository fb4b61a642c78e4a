"""Ending tasks one started, without swallowing a cancellation of one's own.

The usual ``task.cancel(); with suppress(CancelledError): await task`` has a hole:
should the caller itself be cancelled while it waits, the CancelledError it gets
is suppressed as if it were the task's, and the caller carries on as though
nobody had asked it to stop. A supervisor that does this in its clean-up can
start another child after it was told to close, and its ``aclose`` then waits
forever. :func:`cancel_and_wait` waits with :func:`asyncio.wait`, which never
raises what the tasks raised, so only the caller's own cancellation propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel ``tasks`` and return once each has ended.

    A task that ends cancelled is what was asked; one that ends with another error has its
    error raised here (the first such, in the order given), as awaiting it would. If the
    caller is cancelled meanwhile, its CancelledError propagates (the tasks, already told to
    stop, end on their own).
    """
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
