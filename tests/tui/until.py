"""Waiting on what a Textual app shows, with a deadline (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.tui.rig import DEADLINE
from textual.pilot import Pilot

__all__ = ["until"]


async def until(
    pilot: Pilot[None], condition: Callable[[], object], what: str, deadline: float = DEADLINE
) -> None:
    """Let the app run until ``condition()`` holds; fail naming ``what`` after ``deadline``."""
    ends = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"not shown within {deadline:g} s: {what}")
        await pilot.pause(0.02)
