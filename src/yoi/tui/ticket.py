"""One ticket: what it says, its thread, its run, and what can be done to it now.

It loads ``GET /api/tickets/{id}`` (and, when there is an orchestrator, why the
ticket waits and its run) and again whenever the ticket feed names it or its run moves. The
buttons are the backend's actions for the ticket's state (mark ready, queue,
return to planning, comment, review, close), each sent as the backend
described it, and the run's commands (approve or reject a gate, stop, retry).
An action that asks for a text (the intake summary, a resolution) asks for it
first. A refusal shows inline with its code; a stale state loads the ticket
again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Label, Markdown, Static
from textual.widgets.button import ButtonVariant

from yoi.client.tickets import Action
from yoi.errors import StateConflict, UnsupportedOperation, YoiError
from yoi.tui.connection import describe
from yoi.tui.forms import AskText
from yoi.tui.live import LiveScreen
from yoi.tui.ticket_view import (
    RunCommand,
    action_note,
    find_run,
    head_text,
    meta_text,
    run_commands,
    run_text,
    sections_text,
    thread_markdown,
)

__all__ = ["TicketScreen"]

_EMPHASIS: dict[str, ButtonVariant] = {"primary": "primary", "danger": "error"}


class TicketScreen(LiveScreen):
    """The ticket ``ticket_id``, loaded again when it or its run changes."""

    DEFAULT_CSS = """
    TicketScreen #ticket { padding: 0 1; }
    TicketScreen #head { margin-bottom: 1; }
    TicketScreen #errors { color: $error; text-style: bold; }
    TicketScreen .bar { height: auto; }
    TicketScreen .bar Button { margin-right: 1; min-width: 10; }
    TicketScreen #notes { color: $warning; }
    TicketScreen .-empty { display: none; }
    TicketScreen .heading { text-style: bold underline; margin-top: 1; }
    TicketScreen #meta { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "reload", "Reload")]

    def __init__(self, ticket_id: str) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.ticket: dict[str, Any] | None = None
        self.actions: dict[str, Action] = {}
        self.commands: dict[str, RunCommand] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="ticket"):
            yield Static(self.ticket_id, id="head")
            yield Static("", id="errors", classes="-empty")
            yield Horizontal(id="actions", classes="bar")
            yield Static("", id="notes", classes="-empty")
            yield Static("", id="meta")
            yield Label("Description", classes="heading")
            yield Markdown("", id="body")
            yield Static("", id="sections")
            yield Label("Orchestration", classes="heading")
            yield Static("", id="run")
            yield Horizontal(id="run-actions", classes="bar")
            yield Label("Thread", classes="heading")
            yield Markdown("", id="thread")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Ticket {self.ticket_id}"

    def concerns(self, ticket_ids: tuple[str, ...] | None) -> bool:
        return ticket_ids is None or self.ticket_id in ticket_ids

    # -- loading ---------------------------------------------------------------

    async def load(self) -> None:
        """The ticket, why it waits and its run, drawn."""
        try:
            ticket, (run, explained) = await asyncio.gather(
                self.client.ticket(self.ticket_id), self._orchestration()
            )
        except YoiError as error:
            self._error(error)
            return
        await self._draw(ticket, run, explained)

    async def _orchestration(self) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """The ticket's run and why it waits; nothing from a backend without an orchestrator."""
        try:
            status, explained = await asyncio.gather(
                self.client.orchestrator(), self.client.explain(self.ticket_id)
            )
        except UnsupportedOperation:
            return None, None
        return find_run(status, self.ticket_id), explained

    def action_reload(self) -> None:
        self.reload()

    # -- drawing ---------------------------------------------------------------

    async def _draw(
        self,
        ticket: dict[str, Any],
        run: Mapping[str, Any] | None,
        explained: Mapping[str, Any] | None,
    ) -> None:
        self.ticket = ticket
        self.query_one("#head", Static).update(head_text(ticket))
        self.query_one("#meta", Static).update(meta_text(ticket["meta"]))
        await self.query_one("#body", Markdown).update(ticket["body"] or "_No description._")
        self.query_one("#sections", Static).update(sections_text(ticket))
        self.query_one("#run", Static).update(run_text(run, explained))
        await self.query_one("#thread", Markdown).update(thread_markdown(ticket["events"]))
        await self._buttons(ticket, run)

    async def _buttons(self, ticket: Mapping[str, Any], run: Mapping[str, Any] | None) -> None:
        focused = self.focused.id if isinstance(self.focused, Button) else None
        self.actions = {item.name: item for item in map(Action.read, ticket["actions"])}
        self.commands = {command.verb: command for command in run_commands(run)}
        bar = self.query_one("#actions", Horizontal)
        await bar.remove_children()
        await bar.mount_all(
            Button(
                action.label,
                id=f"action-{action.name}",
                variant=_EMPHASIS.get(action.emphasis or "", "default"),
                disabled=action.blocked,
                tooltip=action.reason,
            )
            for action in self.actions.values()
        )
        notes = [note for note in map(action_note, self.actions.values()) if note]
        self._line("notes", "\n".join(notes))
        run_bar = self.query_one("#run-actions", Horizontal)
        await run_bar.remove_children()
        await run_bar.mount_all(
            Button(command.label, id=f"run-{command.verb}") for command in self.commands.values()
        )
        again = self.query(f"#{focused}") if focused else None
        if again:
            again.first().focus()
        elif self.focused is None and bar.children:
            bar.children[0].focus()

    def _line(self, name: str, text: str) -> None:
        """Show ``text`` in the line ``name``, which takes no room while empty."""
        line = self.query_one(f"#{name}", Static)
        line.update(text)
        line.set_class(not text, "-empty")

    def _error(self, error: BaseException) -> None:
        self._line("errors", describe(error))
        self.report(error)

    # -- acting ----------------------------------------------------------------

    @on(Button.Pressed, "#actions Button")
    def _action(self, event: Button.Pressed) -> None:
        action = self.actions.get((event.button.id or "").removeprefix("action-"))
        if action is None:
            return
        if action.asks is None:
            self._perform(action, None)
            return
        asks = action.asks
        ask = AskText(f"{action.label}: {self.ticket_id}", asks.label, asks.hint, action.label)
        self.app.push_screen(ask, lambda text: self._asked(action, text))

    def _asked(self, action: Action, text: object) -> None:
        if isinstance(text, str):
            self._perform(action, text)

    @work(group="ticket-act")
    async def _perform(self, action: Action, text: str | None) -> None:
        await self._send(self.client.perform(action, text))

    @on(Button.Pressed, "#run-actions Button")
    def _command(self, event: Button.Pressed) -> None:
        command = self.commands.get((event.button.id or "").removeprefix("run-"))
        if command is None:
            return
        if command.verb == "reject":
            ask = AskText(
                f"{command.label}: {self.ticket_id}", "Why", "Goes to the coder.", "Reject"
            )
            self.app.push_screen(ask, lambda text: self._asked_run(command, text))
            return
        self._run(command, None)

    def _asked_run(self, command: RunCommand, text: object) -> None:
        if isinstance(text, str):
            self._run(command, text)

    @work(group="ticket-act")
    async def _run(self, command: RunCommand, note: str | None) -> None:
        client, ticket_id = self.client, self.ticket_id
        if command.verb == "stop":
            await self._send(client.stop_run(ticket_id))
        elif command.verb == "retry":
            await self._send(client.retry_run(ticket_id))
        elif command.gate is not None:
            await self._send(client.decide_gate(ticket_id, command.gate, command.verb, note=note))

    async def _send(self, call: Awaitable[object]) -> None:
        """Await ``call`` (a request); show its refusal inline, then load the ticket again."""
        self._line("errors", "")
        try:
            await call
        except YoiError as error:
            self._error(error)
            if not isinstance(error, StateConflict):
                return
        self.reload()
