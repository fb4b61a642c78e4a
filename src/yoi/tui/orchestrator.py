"""The orchestrator screen: runs in flight and why queued tickets wait, with the event
stream live.

It draws ``GET /api/orchestrator`` (the stream's snapshot first, then the status again after
each transition): each run's phase, attempt, workers, usage and cost, the reason it is not
running; the queued tickets with the sentence that says why they wait; and, when no work
starts, the backend's reason (off, no model). The log below holds every transition as it
comes. On the selected run ``s`` stops, ``r`` retries, ``a`` approves and ``d`` rejects its
gate, as far as the run offers them (:mod:`yoi.tui.runs`); ``x`` explains the selected
ticket. The stream resumes by cursor after a cut and resyncs from a snapshot after
``cursor_expired``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Label, RichLog, Static

from yoi.client.orchestrator_events import OrchestratorSnapshot, RunTransition
from yoi.errors import YoiError
from yoi.tui.runs import (
    Action,
    RunRow,
    StatusView,
    explanation_lines,
    read_status,
    resume_after,
    row_of,
    transition_text,
)
from yoi.tui.screen import BackedScreen

__all__ = ["OrchestratorScreen"]

_RUN_COLUMNS = ("Ticket", "Title", "Phase", "Try", "Workers", "Usage", "Cost", "Waiting")
_WAIT_COLUMNS = ("Ticket", "Title", "Why it waits")


class OrchestratorScreen(BackedScreen):
    """Runs in flight, queued tickets and the transitions, live."""

    DEFAULT_CSS = """
    OrchestratorScreen #summary { height: 1; padding: 0 1; color: $text-muted; }
    OrchestratorScreen #notes { height: auto; padding: 0 1; color: $warning; }
    OrchestratorScreen #notes.-empty { display: none; }
    OrchestratorScreen .title { text-style: bold; padding: 0 1; }
    OrchestratorScreen #runs { height: auto; max-height: 12; }
    OrchestratorScreen #waiting { height: auto; max-height: 8; }
    OrchestratorScreen #explain { height: auto; padding: 0 1; border-top: solid $panel; }
    OrchestratorScreen #explain.-empty { display: none; }
    OrchestratorScreen #events { height: 1fr; min-height: 3; border-top: solid $panel; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "stop", "Stop"),
        Binding("r", "retry", "Retry"),
        Binding("a", "approve", "Approve gate"),
        Binding("d", "reject", "Reject gate"),
        Binding("x", "explain", "Explain"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = StatusView(notes=(), summary="loading…", runs=(), waiting=())
        self._off_reason: str | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.view.summary, id="summary")
        yield Static("", id="notes", classes="-empty")
        yield Label("Runs", classes="title")
        yield _table("runs", _RUN_COLUMNS)
        yield Label("Waiting", classes="title")
        yield _table("waiting", _WAIT_COLUMNS)
        yield Static("", id="explain", classes="-empty")
        yield RichLog(id="events", wrap=True, markup=False, max_lines=2000)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Orchestrator"
        self.query_one("#runs", DataTable).focus()
        self.reload()
        self.follow()

    def on_backend_restored(self) -> None:
        self.reload()
        self.follow()

    # -- what the backend says ---------------------------------------------------------

    @work(exclusive=True, group="orchestrator-status")
    async def reload(self) -> None:
        try:
            status = await self.client.orchestrator()
        except YoiError as error:
            self.report(error)
            return
        self.show(status)

    @work(exclusive=True, group="orchestrator-follow")
    async def follow(self) -> None:
        """Follow the stream: resume by cursor after a cut, resync after an expired one."""
        cursor: str | None = None
        while True:
            try:
                async with await self.client.orchestrator_events(cursor) as events:
                    async for event in events:
                        cursor = events.cursor
                        self.heard(event)
                return  # the orchestrator closed
            except YoiError as error:
                resume = resume_after(error, cursor)
                if resume is None:
                    self._off_reason = error.message
                    self.reload()
                    return
                cursor = resume.cursor
                await asyncio.sleep(resume.delay)

    def heard(self, event: OrchestratorSnapshot | RunTransition) -> None:
        if isinstance(event, OrchestratorSnapshot):
            self.show(event.status)
            return
        self.query_one("#events", RichLog).write(transition_text(event))
        self.reload()

    def show(self, status: Mapping[str, Any]) -> None:
        self.view = read_status(status, off_reason=self._off_reason)
        self.query_one("#summary", Static).update(self.view.summary)
        notes = self.query_one("#notes", Static)
        notes.update("\n".join(self.view.notes))
        notes.set_class(not self.view.notes, "-empty")
        self._fill_runs()
        self._fill_waiting()
        self.refresh_bindings()

    def _fill_runs(self) -> None:
        table = self.query_one("#runs", DataTable)
        kept = self.selected_run
        table.clear()
        for run in self.view.runs:
            cells = (run.ticket_id, run.title, run.phase, str(run.attempt), run.workers)
            table.add_row(*cells, run.tokens, run.cost, run.waiting, key=run.ticket_id)
        if kept is not None and row_of(self.view.runs, kept.ticket_id) is not None:
            table.move_cursor(row=table.get_row_index(kept.ticket_id))

    def _fill_waiting(self) -> None:
        table = self.query_one("#waiting", DataTable)
        table.clear()
        for wait in self.view.waiting:
            table.add_row(wait.ticket_id, wait.title, wait.sentence, key=wait.ticket_id)

    # -- the selection and its actions ------------------------------------------------

    @property
    def selected_run(self) -> RunRow | None:
        return row_of(self.view.runs, _cursor_key(self.query_one("#runs", DataTable)))

    @property
    def selected_ticket(self) -> str | None:
        """The ticket of the focused table's row (a run's, else a waiting one's)."""
        waiting = self.query_one("#waiting", DataTable)
        if waiting.has_focus:
            return _cursor_key(waiting)
        run = self.selected_run
        return None if run is None else run.ticket_id

    @on(DataTable.RowHighlighted)
    def _moved(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        try:
            wanted = Action(action)
        except ValueError:
            return True
        run = self.selected_run
        return run is not None and wanted in run.actions

    def action_stop(self) -> None:
        self._act(lambda ticket, _: self.client.stop_run(ticket))

    def action_retry(self) -> None:
        self._act(lambda ticket, _: self.client.retry_run(ticket))

    def action_approve(self) -> None:
        self._act(lambda ticket, gate: self.client.decide_gate(ticket, gate, "approve"))

    def action_reject(self) -> None:
        self._act(lambda ticket, gate: self.client.decide_gate(ticket, gate, "reject"))

    def _act(self, send: Callable[[str, str], Awaitable[object]]) -> None:
        run = self.selected_run
        if run is None or self._busy:
            return
        self._busy = True
        self._send(send, run.ticket_id, run.gate or "")

    @work(group="orchestrator-act")
    async def _send(self, send: Callable[[str, str], Awaitable[object]], *args: str) -> None:
        try:
            await send(*args)
        except YoiError as error:
            self.report(error)
        finally:
            self._busy = False
        self.reload()

    def action_explain(self) -> None:
        ticket = self.selected_ticket
        if ticket is not None:
            self._explain(ticket)

    @work(exclusive=True, group="orchestrator-explain")
    async def _explain(self, ticket: str) -> None:
        try:
            explained = await self.client.explain(ticket)
        except YoiError as error:
            self.report(error)
            return
        panel = self.query_one("#explain", Static)
        panel.update("\n".join(explanation_lines(explained)))
        panel.remove_class("-empty")


def _table(name: str, columns: tuple[str, ...]) -> DataTable[str]:
    table: DataTable[str] = DataTable(id=name, cursor_type="row", zebra_stripes=True)
    table.add_columns(*columns)
    return table


def _cursor_key(table: DataTable[str]) -> str | None:
    if table.row_count == 0:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except LookupError:
        return None
    return key.value
