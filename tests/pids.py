"""Waiting on processes and descriptors through the event loop, never by polling."""

from __future__ import annotations

import asyncio
import os

__all__ = ["exited", "readable"]


async def exited(pid: int) -> None:
    """Return once ``pid`` (a child or not) has exited; the caller sets the deadline."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        await readable(fd)  # a pidfd turns readable when its process ends
    finally:
        os.close(fd)


async def readable(fd: int) -> None:
    """Return once ``fd`` is readable."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
