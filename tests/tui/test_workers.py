"""The Workers screen against a real backend: runtimes, workers paged and filtered, a worker
created from the screen, and its console opened, all by keyboard."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.tui.rig import DEADLINE, EMBEDDED, TuiBackend, tui_backend
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select

from yoi.providers.script import Turn
from yoi.runtime import RoleIntent
from yoi.testing import Stall, Text
from yoi.tui.app import YoiApp
from yoi.tui.console import ConsolePanel, ConsoleScreen
from yoi.tui.workers import CreateWorker, WorkersScreen


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def rows(app: YoiApp, table: str = "#workers") -> list[list[str]]:
    found: DataTable[str] = app.screen.query_one(table, DataTable)
    return [[str(cell) for cell in found.get_row_at(index)] for index in range(found.row_count)]


def names(app: YoiApp) -> list[str]:
    return [row[0] for row in rows(app)]


async def workers_screen(pilot: Pilot[None]) -> WorkersScreen:
    await pilot.press("w")
    await until(pilot, lambda: isinstance(pilot.app.screen, WorkersScreen), "the Workers screen")
    screen = pilot.app.screen
    assert isinstance(screen, WorkersScreen)
    return screen


async def make(backend: TuiBackend, count: int, *, role: str | None = None) -> None:
    async with backend.connect() as client:
        for index in range(count):
            intent = None if role is None else RoleIntent(role)
            await client.create_worker(EMBEDDED, worker_id=f"w{index:03}", intent=intent)


async def test_runtimes_and_workers_across_pages(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as backend:
        await make(backend, 60)
        app = YoiApp(backend.connect)
        async with app.run_test(size=(120, 40)) as pilot:
            await workers_screen(pilot)
            await until(pilot, lambda: len(rows(app)) == 50, "the first page")
            runtimes = rows(app, "#runtimes")
            assert [row[:3] for row in runtimes if row[1] == "embedded"] == [
                [runtimes[0][0], "embedded", "available"]
            ]
            await pilot.press("ctrl+end")  # the last row: the next page is read
            await until(pilot, lambda: len(rows(app)) > 50, "the second page")
            expected = ["Companion"] + [f"w{index:03}" for index in range(60)]
            assert sorted(names(app)) == expected
            assert app.reported == []


async def test_filters_by_status_role_and_runtime(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("busy"), Stall()]]
    async with tui_backend(tmp_path, turns) as backend:
        await make(backend, 2, role="coder")
        async with backend.connect() as client:
            await client.create_worker(EMBEDDED, worker_id="runner", initial_input="go")
        app = YoiApp(backend.connect)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await workers_screen(pilot)
            await until(pilot, lambda: len(rows(app)) == 4, "every worker")
            # the status filter, by keyboard: focus it, open it, pick "running"
            status = screen.query_one("#status", Select)
            status.focus()
            await pilot.press("enter")
            await pilot.press("down", "down", "enter")  # any status, idle, running
            await until(pilot, lambda: names(app) == ["runner"], "only the running worker")
            status.value = "all"
            await until(pilot, lambda: len(rows(app)) == 4, "every worker again")
            screen.query_one("#role", Select).value = "coder"
            await until(pilot, lambda: sorted(names(app)) == ["w000", "w001"], "the coders")
            screen.query_one("#role", Select).value = "all"
            screen.query_one("#runtime", Select).value = EMBEDDED
            await until(pilot, lambda: len(rows(app)) == 4, "the embedded runtime's")
            assert app.reported == []


async def test_a_worker_is_created_and_its_console_opened(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("Hi", " there")]]
    async with tui_backend(tmp_path, turns) as backend:
        app = YoiApp(backend.connect)
        async with app.run_test(size=(120, 40)) as pilot:
            await workers_screen(pilot)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, CreateWorker), "the dialog")
            await pilot.press("tab", "tab")  # runtime, profile, then the display name
            await pilot.press(*"ada")
            app.screen.query_one("#message", Input).focus()
            await pilot.press(*"hello")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConsoleScreen), "the console")
            panel = app.screen.query_one(ConsolePanel)
            await until(
                pilot,
                lambda: (
                    [(i.kind, i.text) for i in panel.conversation.items][:2]
                    == [("user", "hello"), ("assistant", "Hi there")]
                ),
                "the first exchange",
            )
            assert panel.assistant_name() == "ada"
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, WorkersScreen), "back")
            await until(pilot, lambda: "ada" in names(app), "the new worker listed")


async def test_enter_opens_a_workers_console(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as backend:
        await make(backend, 2)
        app = YoiApp(backend.connect)
        async with app.run_test(size=(120, 40)) as pilot:
            await workers_screen(pilot)
            await until(pilot, lambda: len(rows(app)) == 3, "the workers")
            await pilot.press("j", "j", "enter")
            await until(pilot, lambda: isinstance(app.screen, ConsoleScreen), "the console")
            screen = app.screen
            assert isinstance(screen, ConsoleScreen)
            assert (screen.runtime_id, screen.worker_id) == (EMBEDDED, "w001")
