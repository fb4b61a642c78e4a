"""The shell against a real backend: screens by key and palette, errors inline, and losing
the backend and getting it back without a restart."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from tests.tui.rig import tui_backend
from tests.tui.until import until
from textual.command import CommandList, CommandPalette

from yoi.client.backend import BackendClient
from yoi.errors import TicketNotFound
from yoi.tui.app import YoiApp
from yoi.tui.board import BoardScreen, CardList
from yoi.tui.connection import Change, Connection, Link
from yoi.tui.ticket import TicketScreen


def _loads(app: YoiApp) -> int:
    return getattr(app.screen, "loads", 0)


async def test_keys_and_the_palette_open_the_screens(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        made = served.tickets.create("One", "", author="t")
        app = YoiApp(served.connect)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            assert app.sub_title == "connected"
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, TicketScreen), "the ticket")
            assert app.screen.ticket_id == made.id  # type: ignore[attr-defined]
            await pilot.press("b")
            await until(pilot, lambda: isinstance(app.screen, BoardScreen), "the board by b")
            assert len(app.screen_stack) == 2
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*"open board")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, BoardScreen), "the board again")
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running, "the app quit")


async def test_the_palette_has_a_command_per_screen(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*"open")
            commands = app.screen.query_one(CommandList)

            def listed() -> set[str]:
                prompts = (
                    commands.get_option_at_index(i).prompt for i in range(commands.option_count)
                )
                return {str(getattr(prompt, "plain", prompt)).split("\n")[0] for prompt in prompts}

            wanted = {"Open board", "Open workers", "Open orchestrator", "Open companion"}
            await until(pilot, lambda: wanted <= listed(), "a command per screen")


async def test_an_error_is_reported_as_its_code_and_message(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            app.report(TicketNotFound("no ticket T1"))
            notes = app._notifications  # what notify() queued for the toasts
            await until(pilot, lambda: list(notes), "the notification")
            assert [(note.message, note.severity) for note in notes] == [
                ("ticket_not_found: no ticket T1", "error")
            ]


async def test_losing_the_backend_shows_reconnecting_and_recovers(tmp_path: Path) -> None:
    where: dict[str, str] = {}

    def connect() -> BackendClient:
        return BackendClient(where["url"], timeout=5.0)

    async with AsyncExitStack() as first_stack:
        first = await first_stack.enter_async_context(tui_backend(tmp_path / "a"))
        first.tickets.create("On the first backend", "", author="t")
        where["url"] = first.url
        app = YoiApp(connect, health_every=0.1)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            await first_stack.aclose()
            await until(pilot, lambda: "reconnecting" in str(app.sub_title), "reconnecting")
            assert app.connection.link is Link.RECONNECTING
            async with tui_backend(tmp_path / "b") as second:
                made = second.tickets.create("On the second backend", "", author="t")
                where["url"] = second.url
                await until(pilot, lambda: app.sub_title == "connected", "connected again")
                cards = app.screen.query_one("#cards-planning", CardList)
                await until(
                    pilot,
                    lambda: cards.option_count == 1 and cards.get_option_at_index(0).id == made.id,
                    "the second backend's board",
                )
                second.tickets.create("Live again", "", author="t")
                await until(pilot, lambda: cards.option_count == 2, "the feed followed again")


def test_the_connection_says_lost_once_and_restored_once() -> None:
    link = Connection()
    assert link.label == "connecting…"
    assert link.observe(True) is Change.NONE
    assert link.observe(False) is Change.LOST
    assert link.observe(False) is Change.NONE
    assert link.failures == 2
    assert link.label == "reconnecting… (the backend did not answer)"
    assert link.observe(True) is Change.RESTORED
    assert link.label == "connected"
    assert link.observe(False, TicketNotFound("gone")) is Change.LOST
    assert link.last_error == "ticket_not_found: gone"
