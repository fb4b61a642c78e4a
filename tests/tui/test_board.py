"""The board against a real backend: columns with counts, keys, a new ticket, live moves."""

from __future__ import annotations

from pathlib import Path

from tests.tui.rig import tui_backend
from tests.tui.until import until
from textual.events import Paste
from textual.widgets import Input, Label

from yoi.client.tickets import Card
from yoi.tickets import State
from yoi.tui.app import YoiApp
from yoi.tui.board import BoardScreen, CardList
from yoi.tui.board_view import Orchestration, card_text


def _board(app: YoiApp) -> BoardScreen:
    screen = app.screen
    assert isinstance(screen, BoardScreen)
    return screen


def _count(app: YoiApp, state: str) -> str:
    return str(app.screen.query_one(f"#title-{state}", Label).content)


def _ids(app: YoiApp, state: str) -> list[str | None]:
    cards = app.screen.query_one(f"#cards-{state}", CardList)
    return [cards.get_option_at_index(i).id for i in range(cards.option_count)]


async def test_the_board_shows_six_columns_with_counts_and_moves_by_keys(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        first = served.tickets.create("First", "one", author="t")
        second = served.tickets.create("Second", "two", author="t")
        third = served.tickets.create("Ready one", "three", author="t")
        served.tickets.move(third.id, State.READY, author="t", summary="ok")
        app = YoiApp(served.connect)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: getattr(app.screen, "loads", 0) > 0, "the board")
            states = [column.state for column in _board(app).board.columns]  # type: ignore[union-attr]
            assert states == ["planning", "ready", "queued", "inprogress", "done", "closed"]
            assert _count(app, "planning") == "Planning (2)"
            assert "(1)" in _count(app, "ready")
            assert set(_ids(app, "planning")) == {first.id, second.id}
            start = _board(app).focused_ticket()
            await pilot.press("j")
            assert _board(app).focused_ticket() not in (None, start)
            await pilot.press("k")
            assert _board(app).focused_ticket() == start
            await pilot.press("l")
            assert _board(app).focused_ticket() == third.id
            await pilot.press("right", "h", "left")
            assert _board(app).focused_ticket() in (first.id, second.id)


async def test_the_board_follows_changes_made_elsewhere(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: getattr(app.screen, "loads", 0) > 0, "the board")
            made = served.tickets.create("Made by the CLI", "", author="t")
            await until(pilot, lambda: made.id in _ids(app, "planning"), "the new card")
            served.tickets.move(made.id, State.READY, author="t", summary="ok")
            await until(pilot, lambda: made.id in _ids(app, "ready"), "the card in ready")
            assert _ids(app, "planning") == []


async def test_n_makes_a_ticket_in_planning(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: getattr(app.screen, "loads", 0) > 0, "the board")
            await pilot.press("n")
            await pilot.press(*"Write docs", "enter", *"The body", "ctrl+s")
            await until(pilot, lambda: len(_ids(app, "planning")) == 1, "the new card")
            (made,) = served.tickets.listing(state=State.PLANNING).items
            assert made.meta.title == "Write docs"
            assert served.tickets.get(made.id).body.strip() == "The body"


async def test_a_refused_new_ticket_shows_its_code(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as served:
        app = YoiApp(served.connect)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: getattr(app.screen, "loads", 0) > 0, "the board")
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.focused, Input), "the title field")
            assert app.focused is not None
            app.focused.post_message(Paste("x" * 301))  # a paste: one event, not 301 keys
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.reported, "the refusal")
            assert [getattr(error, "code", None) for error in app.reported] == ["invalid_request"]
            assert _ids(app, "planning") == []


def test_a_card_says_its_blockers_its_run_and_why_it_waits() -> None:
    card = Card("T1", "Title", "inprogress", None, None, (), None, (), ())
    status = {
        "enabled": True,
        "problems": [{"code": "no_model", "message": "no model"}],
        "runs": [
            {
                "ticket_id": "T1",
                "phase": "reviewing",
                "review_round": 2,
                "usage": {"run": {"input_tokens": 1234, "output_tokens": 5, "cost_usd": 0.5}},
                "gate": {"gate": "merge"},
            }
        ],
        "waiting": [{"ticket_id": "T2", "sentence": "T2 waits for a free slot."}],
    }
    orchestration = Orchestration.read(status)
    shown = card_text(card, orchestration).plain
    assert "reviewing · round 2" in shown
    assert "gate: merge" in shown
    assert "1,234 in · 5 out · $0.50" in shown
    assert orchestration.notes == ("no_model: no model",)
    queued = Card("T2", "Other", "queued", None, None, (), None, (), ())
    assert "T2 waits for a free slot." in card_text(queued, orchestration).plain
    off = Orchestration.read({"enabled": False})
    assert off.notes == ("The orchestrator is off: queued tickets wait.",)
