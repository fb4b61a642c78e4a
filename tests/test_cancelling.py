"""cancel_and_wait: the tasks end, and a cancellation of the caller is never swallowed."""

from __future__ import annotations

import asyncio

import pytest

from yoi.cancelling import cancel_and_wait

DEADLINE = 5.0


async def _slow_to_end(ending: asyncio.Event, release: asyncio.Event) -> None:
    """Sleeps until cancelled, then takes until ``release`` to end (a clean-up that awaits)."""
    try:
        await asyncio.Event().wait()
    finally:
        ending.set()
        await release.wait()


async def test_the_tasks_end_and_their_cancellation_is_not_raised() -> None:
    tasks = [asyncio.create_task(asyncio.Event().wait()) for _ in range(3)]
    async with asyncio.timeout(DEADLINE):
        await cancel_and_wait(*tasks)
    assert all(task.cancelled() for task in tasks)


async def test_a_task_that_fails_while_ending_has_its_error_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise LookupError("broken while ending")

    quiet = asyncio.create_task(asyncio.Event().wait())
    failing = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)  # both start waiting
    with pytest.raises(LookupError, match="broken while ending"):
        await cancel_and_wait(quiet, failing)
    assert quiet.cancelled()


async def test_a_caller_cancelled_while_it_waits_is_cancelled() -> None:
    """The hole in ``suppress(CancelledError): await task``: a supervisor told to stop while
    it waits for its watcher to end would carry on; with cancel_and_wait it stops."""
    ending, release = asyncio.Event(), asyncio.Event()
    carried_on = asyncio.Event()

    async def supervisor() -> None:
        child = asyncio.create_task(_slow_to_end(ending, release))
        await asyncio.sleep(0)
        await cancel_and_wait(child)
        carried_on.set()  # must not be reached: the supervisor was cancelled meanwhile
        await asyncio.Event().wait()

    task = asyncio.create_task(supervisor())
    async with asyncio.timeout(DEADLINE):
        await ending.wait()
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not carried_on.is_set()


async def test_no_tasks_is_nothing_to_do() -> None:
    await cancel_and_wait()
