"""The board: a column per ticket state with its count, a card per ticket, live.

It draws ``GET /api/board`` (columns, counts and cards come in the API's
order, with its labels) and the orchestrator's status (a run's phase and
usage, why a queued ticket waits), and loads them again whenever the ticket
feed says something changed, whoever changed it. Left/right (h/l) move
between columns, up/down (j/k) between cards, Enter opens the ticket, ``n``
makes a new one.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import HorizontalScroll, Vertical
from textual.widgets import Footer, Header, Label, OptionList, Static
from textual.widgets.option_list import Option

from yoi.client.tickets import Board, Column
from yoi.errors import UnsupportedOperation, YoiError
from yoi.tui.board_view import Orchestration, card_text
from yoi.tui.connection import describe
from yoi.tui.forms import NewTicket, NewTicketForm
from yoi.tui.live import LiveScreen

__all__ = ["CARDS", "BoardScreen", "CardList", "Columns"]

COLUMN_WIDTH = 22
"""The narrowest a column gets; at 80 columns the board scrolls sideways to the focused one."""
CARDS = 50
"""The most cards a column shows (its count is every ticket in it): a terminal shows a
dozen at once, and drawing hundreds would slow the board's start."""


class CardList(OptionList):
    """One column's cards; an option's id is its ticket's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, state: str) -> None:
        super().__init__(id=f"cards-{state}", classes="cards")
        self.state = state

    def show(self, column: Column, orchestration: Orchestration) -> None:
        """Draw ``column``'s cards, keeping the highlighted ticket where it still is."""
        kept = self.selected_id
        self.clear_options()
        shown: list[Option | None] = []
        for card in column.cards:
            shown += [None, Option(card_text(card, orchestration), id=card.id)]
        self.add_options(shown[1:])  # a rule between two cards
        hidden = column.count - len(column.cards)
        if hidden > 0:
            self.add_option(Option(f"{hidden} more not shown", disabled=True))
        if kept is not None and kept in {card.id for card in column.cards}:
            self.highlighted = self.get_option_index(kept)
        elif column.cards:
            self.highlighted = 0

    @property
    def selected_id(self) -> str | None:
        index = self.highlighted
        if index is None or index >= self.option_count:
            return None
        return self.get_option_at_index(index).id


class Columns(HorizontalScroll, can_focus=False):
    """The columns side by side; they scroll sideways to the focused one when narrow."""


class BoardScreen(LiveScreen):
    """The six ticket columns, with counts; the feeds keep them current."""

    DEFAULT_CSS = """
    BoardScreen #columns { height: 1fr; }
    BoardScreen .column { width: 24; border: round $panel; }
    BoardScreen .column:focus-within { border: round $accent; }
    BoardScreen .column-title { width: 1fr; text-style: bold; padding: 0 1; }
    BoardScreen .cards { height: 1fr; border: none; padding: 0; }
    BoardScreen .cards > .option-list--option { padding: 0 1; }
    BoardScreen #notes { height: auto; color: $warning; padding: 0 1; }
    BoardScreen #notes.-empty { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left,h", "column(-1)", "Column", show=False),
        Binding("right,l", "column(1)", "Column", show=False),
        Binding("n", "new_ticket", "New ticket"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.board: Board | None = None
        self.orchestration = Orchestration()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="notes", classes="-empty")
        yield Columns(id="columns")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Board"

    # -- loading ---------------------------------------------------------------

    async def load(self) -> None:
        """The board and the orchestrator's status, drawn."""
        try:
            board, orchestration = await asyncio.gather(
                self.client.board(limit=CARDS), self._status()
            )
        except YoiError as error:
            self._note(describe(error))
            return
        await self._draw(board, orchestration)

    async def _status(self) -> Orchestration:
        try:
            return Orchestration.read(await self.client.orchestrator())
        except UnsupportedOperation:
            return Orchestration()
        except YoiError as error:
            return Orchestration(notes=(f"orchestrator: {describe(error)}",))

    def on_screen_resume(self) -> None:
        if self.board is not None:
            self.reload()

    def action_reload(self) -> None:
        self.reload()

    # -- drawing ---------------------------------------------------------------

    async def _draw(self, board: Board, orchestration: Orchestration) -> None:
        self.board, self.orchestration = board, orchestration
        holder = self.query_one("#columns", Columns)
        missing = [c.state for c in board.columns if not holder.query(f"#column-{c.state}")]
        if missing:
            await holder.mount_all(self._column(state) for state in missing)
            self._fit()
        for column in board.columns:
            self.query_one(f"#title-{column.state}", Label).update(
                f"{column.label} ({column.count})"
            )
            self.query_one(f"#cards-{column.state}", CardList).show(column, orchestration)
        notes = [*orchestration.notes]
        notes += [f"{ticket}: {problem}" for ticket, problem in board.invalid_records]
        self._note("\n".join(notes))
        if self.focused is None:
            self._focus_first()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Share the width among the columns; below ``COLUMN_WIDTH`` each they scroll."""
        columns = self.query(".column")
        if columns:
            width = max(COLUMN_WIDTH, self.size.width // len(columns))
            for column in columns:
                column.styles.width = width

    @staticmethod
    def _column(state: str) -> Vertical:
        return Vertical(
            Label("", id=f"title-{state}", classes="column-title"),
            CardList(state),
            id=f"column-{state}",
            classes="column",
        )

    def _note(self, text: str) -> None:
        notes = self.query_one("#notes", Static)
        notes.update(text)
        notes.set_class(not text, "-empty")

    def _focus_first(self) -> None:
        lists = list(self.query(CardList))
        with_cards = [cards for cards in lists if cards.option_count > 0]
        if lists:
            (with_cards or lists)[0].focus()

    # -- keys ------------------------------------------------------------------

    def action_column(self, step: int) -> None:
        lists = list(self.query(CardList))
        if not lists:
            return
        focused = self.focused
        index = lists.index(focused) if isinstance(focused, CardList) else 0
        lists[max(0, min(len(lists) - 1, index + step))].focus()

    @on(OptionList.OptionSelected, ".cards")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.app_open("ticket", event.option.id)

    def app_open(self, name: str, *args: str) -> None:
        opener = getattr(self.app, "open", None)
        if callable(opener):
            opener(name, *args)

    def action_new_ticket(self) -> None:
        self.app.push_screen(NewTicketForm(), self._create)

    def _create(self, given: object) -> None:
        if isinstance(given, NewTicket):
            self._send_new(given)

    @work(group="board-create")
    async def _send_new(self, given: NewTicket) -> None:
        try:
            await self.client.create_ticket(given.title, given.body)
        except YoiError as error:
            self.report(error)
            return
        self.reload()

    def focused_ticket(self) -> str | None:
        """The ticket of the highlighted card in the focused column (tests read it)."""
        focused = self.focused
        return focused.selected_id if isinstance(focused, CardList) else None
