"""Snapshots of the main screens at 80x24 and 160x48, against a real backend.

``snap_compare`` runs the app in an event loop of its own, so the backend is served from a
thread with its own loop (:func:`served`). What the screens show is fixed: tickets are made
with a fixed clock (their ids and times), workers with fixed ids, and each shot waits until
the screen shows what it should (never a bare sleep) and stops the cursors blinking.
Update them with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the
report before committing.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
from tests.tui.rig import (
    DEADLINE,
    EMBEDDED,
    OrchestratedBackend,
    TuiBackend,
    orchestrated_backend,
    tui_backend,
)
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from yoi.backend.orchestration import NO_MODEL
from yoi.client.observation import RemoteSubscription
from yoi.runtime.events import RunFinished
from yoi.testing import Text
from yoi.tickets import State, TicketStore
from yoi.tui.app import YoiApp

T = TypeVar("T")
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
EPOCH_MS = 1_780_000_000_000
"""The fixed clock's first reading (milliseconds): tickets get the same ids and times."""
WORKER = "snapshot-helper"


class Compare(Protocol):
    def __call__(
        self,
        app: App[None],
        press: tuple[str, ...] = (),
        terminal_size: tuple[int, int] = (80, 24),
        run_before: Callable[[Pilot[None]], Awaitable[None]] | None = None,
    ) -> bool: ...


# -- a backend in a thread of its own ----------------------------------------------------------


@contextmanager
def served(make: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """What ``make()`` serves, entered in a thread with its own event loop until the block
    ends."""
    handed: list[T | BaseException] = []
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        try:
            async with make() as value:
                handed.append(value)
                ready.set()
                await asyncio.to_thread(stop.wait)
        except BaseException as error:
            handed.append(error)
            ready.set()
            raise

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(DEADLINE), "the backend did not start"
        [value] = handed
        if isinstance(value, BaseException):
            raise value
        yield value
    finally:
        stop.set()
        thread.join(DEADLINE)


def fixed_store(folder: Path) -> TicketStore:
    """A store over ``folder`` whose clock ticks a millisecond a reading from a fixed time."""
    ticks = itertools.count(EPOCH_MS)
    return TicketStore(folder, clock=lambda: next(ticks))


def seed_board(folder: Path) -> list[str]:
    """Tickets in planning, ready and queued, the same ids every time."""
    store = fixed_store(folder)
    made = [
        store.create("Write the release notes", "Draft them.\n", author="ann").id,
        store.create("Fix the login redirect", "It loops.\n\n- [ ] reproduce\n", author="ann").id,
        store.create("Add a health page", "Show uptime.\n", author="bo").id,
    ]
    store.move(made[1], State.READY, author="ann")
    store.move(made[2], State.READY, author="bo")
    store.move(made[2], State.QUEUED, author="bo")
    store.comment(made[1], "Seen on staging too.", author="bo")
    return made


@asynccontextmanager
async def with_worker(tmp_path: Path) -> AsyncIterator[TuiBackend]:
    """A backend whose embedded runtime has a worker that has answered once."""
    async with tui_backend(tmp_path, [[Text("Hello from the console.")]]) as backend:
        async with backend.connect() as client:
            await client.create_worker(EMBEDDED, worker_id=WORKER, display_name="helper")
            async with await client.subscribe(EMBEDDED, WORKER) as events:
                await client.send_input(EMBEDDED, WORKER, "Say hello.")
                await until_finished(events)
        yield backend


@asynccontextmanager
async def with_companion(tmp_path: Path) -> AsyncIterator[TuiBackend]:
    """A backend whose Companion has answered once."""
    async with tui_backend(tmp_path, [[Text("Hi, I keep this workspace company.")]]) as backend:
        async with backend.connect() as client:
            companion = await client.companion()
            ids = (companion.runtime_id, companion.worker_id)
            async with await client.subscribe(*ids) as events:
                await client.send_to_companion("Who are you?")
                await until_finished(events)
        yield backend


async def until_finished(events: RemoteSubscription) -> None:
    async with asyncio.timeout(DEADLINE):
        async for item in events:
            if isinstance(item.event, RunFinished):
                return


# -- waiting for what a screen shows -------------------------------------------------------------


def shown(app: App[None]) -> str:
    """The screen's text as the screenshot has it (styles dropped)."""
    svg = app.export_screenshot(simplify=True)
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def showing(
    *needles: str, open_screen: Callable[[YoiApp], None] | None = None
) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` that opens a screen if asked, waits until every needle is shown and
    a widget has the focus (each screen gives it one once loaded), and stops the cursors
    blinking."""

    async def wait(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, YoiApp)
        if open_screen is not None:
            await pilot.pause()
            open_screen(app)
        ends = time.monotonic() + DEADLINE
        while app.focused is None or not all(needle in shown(app) for needle in needles):
            assert time.monotonic() < ends, f"not shown: {needles} in\n{shown(app)}"
            await pilot.pause(0.05)
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        for area in app.screen.query(TextArea):
            area.cursor_blink = False
        await pilot.pause()

    return wait


# -- the screens ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_board(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: tui_backend(tmp_path)) as backend:
        seed_board(backend.tickets.root)
        app = YoiApp(backend.connect, start="board")
        assert snap_compare(
            app, terminal_size=size, run_before=showing("00001KSR49200", "The orchestrator is off")
        )


@pytest.mark.parametrize("size", SIZES)
def test_ticket(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: tui_backend(tmp_path)) as backend:
        ticket = seed_board(backend.tickets.root)[1]
        app = YoiApp(backend.connect, start="board")
        opened = showing(
            "It loops", "a person queues it", open_screen=lambda app: app.open("ticket", ticket)
        )
        assert snap_compare(app, terminal_size=size, run_before=opened)


@pytest.mark.parametrize("size", SIZES)
def test_workers(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: with_worker(tmp_path)) as backend:
        app = YoiApp(backend.connect, start="workers")
        assert snap_compare(
            app, terminal_size=size, run_before=showing("helper", "available", "2 of 2")
        )


@pytest.mark.parametrize("size", SIZES)
def test_console(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: with_worker(tmp_path)) as backend:
        app = YoiApp(backend.connect, start="workers")
        opened = showing(
            "Hello from the console.",
            "idle · live",
            open_screen=lambda app: app.open("console", EMBEDDED, WORKER),
        )
        assert snap_compare(app, terminal_size=size, run_before=opened)


@pytest.mark.parametrize("size", SIZES)
def test_companion(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: with_companion(tmp_path)) as backend:
        app = YoiApp(backend.connect, start="companion")
        wait = showing("keep this workspace company", "idle · live")
        assert snap_compare(app, terminal_size=size, run_before=wait)


def orchestrator_waiting(tmp_path: Path) -> AbstractAsyncContextManager[OrchestratedBackend]:
    """An orchestrator without a model, and a queued ticket that waits for one."""

    @asynccontextmanager
    async def opened() -> AsyncIterator[OrchestratedBackend]:
        async with orchestrated_backend(tmp_path, model_problem=NO_MODEL) as backend:
            store = fixed_store(backend.tickets.root)
            ticket = store.create("Add a health page", "Show uptime.\n", author="ann").id
            for state in (State.READY, State.QUEUED):
                store.move(ticket, state, author="ann")
            yield backend

    return opened()


@pytest.mark.parametrize("size", SIZES)
def test_orchestrator(snap_compare: Compare, tmp_path: Path, size: tuple[int, int]) -> None:
    with served(lambda: orchestrator_waiting(tmp_path)) as backend:
        app = YoiApp(backend.connect, start="orchestrator")
        wait = showing("no_model", "health page")
        assert snap_compare(app, terminal_size=size, run_before=wait)
        assert backend.url
