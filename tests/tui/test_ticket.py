"""The ticket screen against a real backend: open from the board, act, see it move."""

from __future__ import annotations

from pathlib import Path

from tests.tui.rig import orchestrated_backend, tui_backend
from tests.tui.until import until
from textual.events import Paste
from textual.pilot import Pilot
from textual.widgets import Button, Static, TextArea

from yoi.orchestrator.settings import OrchestratorSettings
from yoi.tickets import State
from yoi.tui.app import YoiApp
from yoi.tui.board import BoardScreen, CardList
from yoi.tui.ticket import TicketScreen
from yoi.tui.ticket_view import RunCommand, run_commands, sections_text, thread_markdown


def _ticket(app: YoiApp) -> TicketScreen:
    screen = app.screen
    assert isinstance(screen, TicketScreen)
    return screen


async def _press(pilot: Pilot[None], app: YoiApp, button_id: str) -> None:
    """Tab to the button ``button_id`` and press Enter on it."""
    await until(pilot, lambda: app.screen.query(f"#{button_id}"), f"the {button_id} button")
    for _ in range(40):
        focused = app.focused
        if isinstance(focused, Button) and focused.id == button_id:
            await pilot.press("enter")
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{button_id}")


def _cards(app: YoiApp, state: str) -> list[str | None]:
    cards = app.screen.query_one(f"#cards-{state}", CardList)
    return [cards.get_option_at_index(i).id for i in range(cards.option_count)]


def _loads(app: YoiApp) -> int:
    return getattr(app.screen, "loads", 0)


async def test_create_mark_ready_queue_and_watch_it_move(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            await pilot.press("n", *"Fix it", "enter", *"It is broken", "ctrl+s")
            await until(pilot, lambda: len(_cards(app, "planning")) == 1, "the new card")
            (made,) = _cards(app, "planning")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, TicketScreen), "the ticket")
            await until(pilot, lambda: _loads(app) > 0, "the ticket drawn")
            assert _ticket(app).ticket_id == made
            assert set(_ticket(app).actions) == {"ready", "close", "comment"}
            await _press(pilot, app, "action-ready")
            await until(pilot, lambda: isinstance(app.focused, TextArea), "the summary box")
            await pilot.press(*"Done when fixed", "ctrl+s")
            await until(pilot, lambda: "queue" in _ticket(app).actions, "the queue action")
            assert served.tickets.get(str(made)).meta.state is State.READY
            await _press(pilot, app, "action-queue")
            await until(pilot, lambda: "start" in _ticket(app).actions, "queued")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, BoardScreen), "the board again")
            await until(pilot, lambda: _cards(app, "queued") == [made], "the card in queued")
            assert _cards(app, "planning") == []


async def test_a_refused_action_shows_its_code_inline(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        made = served.tickets.create("Talk", "", author="t")
        app = YoiApp(served.connect)
        async with app.run_test(size=(140, 45)) as pilot:
            app.open("ticket", made.id)
            await until(pilot, lambda: isinstance(app.screen, TicketScreen), "the ticket")
            await until(pilot, lambda: _loads(app) > 0, "the ticket drawn")
            await _press(pilot, app, "action-comment")
            await until(pilot, lambda: isinstance(app.focused, TextArea), "the comment box")
            assert app.focused is not None
            app.focused.post_message(Paste("x" * 300_000))  # over the ticket text limit
            await pilot.press("ctrl+s")
            errors = app.screen.query_one("#errors", Static)
            await until(pilot, lambda: "payload_too_large" in str(errors.content), "the code")
            assert [getattr(error, "code", None) for error in app.reported] == ["payload_too_large"]
            assert len(served.tickets.get(made.id).events) == 1


async def test_a_missing_ticket_says_so_inline(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            app.open("ticket", "00001M99EX5Y9")
            await until(pilot, lambda: app.reported, "the error")
            errors = app.screen.query_one("#errors", Static)
            assert str(errors.content).startswith("ticket_not_found: ")


def test_the_run_offers_what_its_phase_and_gate_allow() -> None:
    at_gate = {"phase": "awaiting_merge", "over": False, "gate": {"gate": "merge"}}
    assert run_commands(at_gate) == [
        RunCommand("approve", "Approve merge", "merge"),
        RunCommand("reject", "Reject merge", "merge"),
        RunCommand("stop", "Stop run"),
    ]
    assert run_commands({"phase": "failed", "over": True}) == [RunCommand("retry", "Retry run")]
    assert run_commands({"phase": "done", "over": True}) == []
    assert run_commands(None) == []


def test_the_sections_leave_out_what_is_empty() -> None:
    ticket = {
        "problems": [],
        "resolution": None,
        "blockers": [{"ticket_id": "B1", "state": "inprogress", "via": "depends_on"}],
        "notices": [],
        "relations": {
            "outgoing": [{"kind": "depends_on", "target": "B1", "note": "first"}],
            "incoming": [],
        },
        "plans": [],
        "artifacts": ["validation.log"],
    }
    shown = sections_text(ticket).plain
    assert "Blockers\n  B1 (inprogress) via depends on" in shown
    assert "depends on → B1 — first" in shown
    assert "Artifacts\n  validation.log" in shown
    assert "Problems" not in shown
    assert "Plan records" not in shown
    assert thread_markdown([]) == "_No events yet._"


async def test_queued_from_the_screen_the_orchestrator_runs_it_past_its_gate(
    tmp_path: Path,
) -> None:
    gated = OrchestratorSettings(pass_interval=0.5, plan_gate=True)
    async with orchestrated_backend(tmp_path, settings=gated) as served:
        made = served.tickets.create("Write a note", "Do it.\n", author="ana")
        app = YoiApp(served.connect)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: _loads(app) > 0, "the board")
            await pilot.press("enter")
            await until(pilot, lambda: _loads(app) > 0 and "ready" in _actions(app), "ticket")
            await _press(pilot, app, "action-ready")
            await until(pilot, lambda: isinstance(app.focused, TextArea), "the summary box")
            await pilot.press(*"A note", "ctrl+s")
            await _press(pilot, app, "action-queue")
            await _press(pilot, app, "run-approve")
            run = app.screen.query_one("#run", Static)
            await until(pilot, lambda: "Phase: done" in str(run.content), "the run done", 60)
            await until(pilot, lambda: _state(app) == "done", "the ticket done")
            await pilot.press("escape")
            await until(pilot, lambda: _cards(app, "done") == [made.id], "the card in done")
            assert app.reported == []


def _actions(app: YoiApp) -> set[str]:
    screen = app.screen
    return set(screen.actions) if isinstance(screen, TicketScreen) else set()


def _state(app: YoiApp) -> str:
    ticket = _ticket(app).ticket
    return "" if ticket is None else str(ticket["meta"]["state"])
