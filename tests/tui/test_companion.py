"""The Companion screen against a real backend: one key away, its conversation streamed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.tui.rig import DEADLINE, tui_backend
from textual.pilot import Pilot
from textual.widgets import Input

from yoi.providers.script import Turn
from yoi.testing import Text
from yoi.tui.app import YoiApp
from yoi.tui.companion import CompanionScreen
from yoi.tui.console import ConsolePanel
from yoi.tui.conversation_view import plain_text


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def test_the_companion_is_one_key_away_and_answers(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("At your", " service")]]
    async with tui_backend(tmp_path, turns) as backend:
        app = YoiApp(backend.connect)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, CompanionScreen), "the Companion")
            await until(pilot, lambda: app.screen.query(ConsolePanel), "its conversation")
            panel = app.screen.query_one(ConsolePanel)
            await until(pilot, lambda: panel.stream_state == "live", "the stream")
            field = panel.query_one(Input)
            assert field.has_focus
            await pilot.press(*"help me")
            await pilot.press("enter")
            await until(
                pilot,
                lambda: (
                    [(i.kind, i.text) for i in panel.conversation.items][:2]
                    == [("user", "help me"), ("assistant", "At your service")]
                ),
                "the reply",
            )
            await until(pilot, lambda: "At your service" in plain_text(panel.view), "drawn")
            assert field.value == ""
            # the offline note shows only when the offline model answers (here: a scripted
            # model the backend labels as configured)
            assert not app.screen.query_one("#offline").display
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, CompanionScreen), "back")
            assert app.reported == []
