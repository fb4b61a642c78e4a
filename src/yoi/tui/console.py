"""A worker's console: its live conversation, pending approvals, a composer, Cancel and Stop.

:class:`ConsolePanel` is the console without the screen around it (the Companion
screen uses it too): it follows the worker's stream (:func:`~yoi.tui.follow.follow`:
resumed by cursor, resynced from a snapshot), folds it into a
:class:`~yoi.tui.transcript.Conversation` and draws that every ``FLUSH_EVERY``
seconds, pages older entries in when the reader reaches the top, and sends what is
typed with the chosen busy policy. Keys: Enter sends, ``ctrl+o`` changes the busy
policy, ``ctrl+y`` / ``ctrl+n`` allow / deny the oldest pending approval, ``ctrl+g``
cancels the run, ``ctrl+s`` stops the worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from yoi.client import OnBusy, RemoteSubscription
from yoi.errors import YoiError
from yoi.tui.conversation_view import ConversationView, ItemView, Older
from yoi.tui.follow import FIRST_PAUSE, Frame, StreamState, follow
from yoi.tui.screen import BackedScreen
from yoi.tui.transcript import Conversation

__all__ = ["ConfirmStop", "ConsolePanel", "ConsoleScreen"]

FLUSH_EVERY = 0.2
"""Seconds between two redraws of what the stream brought. Each redraw of a streaming reply
moves the whole view (a full repaint), so fewer of them leave the loop free for keys:
``bench/tui_stream.py`` answers keys within ~100 ms at 0.2 s, not at 0.1 s."""
PAGE = 50
"""Entries read per page when paging back."""
_POLICIES = [("reject when busy", OnBusy.REJECT), ("queue", OnBusy.ENQUEUE)]
_POLICIES.append(("interrupt", OnBusy.INTERRUPT))
_STATE_TEXT = {"connecting": "connecting…", "live": "live", "reconnecting": "reconnecting…"}

Send = Callable[[str, OnBusy], Awaitable[object]]


class ConsolePanel(Vertical):
    """One worker's conversation and composer."""

    DEFAULT_CSS = """
    ConsolePanel { height: 1fr; }
    ConsolePanel #facts { height: 1; padding: 0 1; background: $boost; }
    ConsolePanel #composer { height: auto; dock: bottom; }
    ConsolePanel #composer Input { width: 1fr; }
    ConsolePanel #composer Select { width: 26; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+y", "answer('allow')", "Allow"),
        Binding("ctrl+n", "answer('deny')", "Deny"),
        Binding("ctrl+g", "cancel_run", "Cancel run"),
        Binding("ctrl+o", "next_policy", "Busy policy"),
    ]

    def __init__(
        self,
        runtime_id: str,
        worker_id: str,
        *,
        send: Send | None = None,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.runtime_id = runtime_id
        self.worker_id = worker_id
        self.conversation = Conversation()
        self.stream_state: StreamState = "connecting"
        self.subscription: RemoteSubscription | None = None
        """The stream open now, if one is."""
        self.reconnect_pause = FIRST_PAUSE
        self.wake = asyncio.Event()
        self._send = send
        self._label = label
        self._loading_older = False
        self._facts = ""
        self.view = ConversationView(self.conversation, assistant=self.assistant_name)

    @property
    def screen_backed(self) -> BackedScreen:
        screen = self.screen
        assert isinstance(screen, BackedScreen)
        return screen

    def assistant_name(self) -> str:
        name = self.conversation.worker.get("display_name")
        return self._label or (name if isinstance(name, str) else self.worker_id)

    def compose(self) -> ComposeResult:
        yield Static(id="facts", markup=False)
        yield self.view
        with Horizontal(id="composer"):
            yield Input(placeholder=f"Message to {self.assistant_name()} (Enter sends)")
            yield Select(_POLICIES, value=OnBusy.REJECT, allow_blank=False, id="policy")

    def on_mount(self) -> None:
        self.set_interval(FLUSH_EVERY, self.flush)
        self.query_one(Input).focus()
        self._follow()
        self._show_facts()

    # -- the stream ---------------------------------------------------------------------

    @work(exclusive=True, group="stream")
    async def _follow(self) -> None:
        async def subscribe(cursor: str | None) -> RemoteSubscription:
            # the app's client of the moment: a new one after the backend came back
            client = self.screen_backed.client
            self.subscription = await client.subscribe(self.runtime_id, self.worker_id, cursor)
            return self.subscription

        try:
            await follow(subscribe, self)
        except YoiError as error:
            self.screen_backed.report(error)
            self.query_one(Input).disabled = True

    def retry_now(self) -> None:
        """Open a cut stream again now rather than after its pause."""
        self.wake.set()

    def frame(self, frame: Frame) -> None:
        """A frame of the stream (the follower's sink)."""
        body = frame.body
        if not frame.snapshot:
            self.conversation.apply(body)
            return
        event = body.get("event") or {}
        if frame.fresh:
            self.conversation.snapshot(event)
        else:
            worker = event.get("worker") or {}
            self.conversation.worker = dict(worker)
            self.conversation.status = worker.get("status")

    def state(self, state: StreamState, error: YoiError | None) -> None:
        self.stream_state = state
        self._show_facts()

    def flush(self) -> None:
        self.view.flush()
        self._show_facts()
        if self.conversation.unread_results:
            wanted = self.conversation.unread_results
            self.conversation.unread_results = []
            self._read_results(wanted)

    @work(group="results")
    async def _read_results(self, sequences: list[int]) -> None:
        """The tool outputs the events only summarised, read back from the transcript."""
        client = self.screen_backed.client
        for sequence in sequences:
            try:
                page = await client.transcript(self.runtime_id, self.worker_id, sequence, 1)
            except YoiError:
                continue  # the summary stays; the next snapshot has the output
            for entry in page.items:
                self.conversation.fill_result(entry.to_dict())

    def _show_facts(self) -> None:
        conversation = self.conversation
        usage = conversation.usage
        parts = [
            self.assistant_name(),
            conversation.status or "…",
            _STATE_TEXT[self.stream_state],
        ]
        if usage["input_tokens"] or usage["output_tokens"]:
            parts.append(f"tokens {usage['input_tokens']} in / {usage['output_tokens']} out")
        if conversation.pending_approvals:
            parts.append(f"{len(conversation.pending_approvals)} waiting for approval")
        text = " · ".join(parts)
        if text != self._facts:
            self._facts = text
            self.query_one("#facts", Static).update(text)
            stopped = conversation.status == "stopped"
            composer = self.query_one(Input)
            composer.disabled = stopped
            if stopped:
                composer.placeholder = "This worker is stopped: it takes no more input."

    # -- older entries ------------------------------------------------------------------

    @on(Older)
    def _older_wanted(self) -> None:
        if not self._loading_older:
            self._loading_older = True
            self._load_older()

    @work(group="older")
    async def _load_older(self) -> None:
        oldest = self.conversation.oldest
        try:
            if oldest is None or oldest <= 1:
                return
            start = max(1, oldest - PAGE)
            page = await self.screen_backed.client.transcript(
                self.runtime_id, self.worker_id, start, oldest - start
            )
            self.conversation.older(entry.to_dict() for entry in page.items)
            self.flush()
        except YoiError as error:
            self.screen_backed.report(error)
        finally:
            self._loading_older = False

    # -- commands -------------------------------------------------------------------------

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        policy = self.query_one("#policy", Select).value
        on_busy = policy if isinstance(policy, OnBusy) else OnBusy.REJECT
        try:
            if self._send is not None:
                await self._send(text, on_busy)
            else:
                await self.screen_backed.client.send_input(
                    self.runtime_id, self.worker_id, text, on_busy
                )
        except YoiError as error:
            self.screen_backed.report(error)
            return
        event.input.value = ""

    def action_next_policy(self) -> None:
        select = self.query_one("#policy", Select)
        values = [value for _, value in _POLICIES]
        current = select.value if select.value in values else OnBusy.REJECT
        select.value = values[(values.index(current) + 1) % len(values)]

    async def action_answer(self, decision: str) -> None:
        pending = self.conversation.pending_approvals
        if pending and pending[0].approval is not None:
            await self._answer(pending[0].approval.approval_id, decision)

    @on(Button.Pressed, "#allow, #deny")
    async def _button(self, event: Button.Pressed) -> None:
        event.stop()
        view = next((node for node in event.button.ancestors if isinstance(node, ItemView)), None)
        if view is not None and view.item.approval is not None:
            await self._answer(view.item.approval.approval_id, event.button.id or "deny")

    async def _answer(self, approval_id: str, decision: str) -> None:
        try:
            await self.screen_backed.client.answer_approval(
                self.runtime_id, self.worker_id, approval_id, decision
            )
        except YoiError as error:
            self.screen_backed.report(error)

    async def action_cancel_run(self) -> None:
        try:
            await self.screen_backed.client.cancel_worker(self.runtime_id, self.worker_id)
        except YoiError as error:
            self.screen_backed.report(error)

    async def stop_worker(self, reason: str | None) -> None:
        try:
            await self.screen_backed.client.stop_worker(self.runtime_id, self.worker_id, reason)
        except YoiError as error:
            self.screen_backed.report(error)


class ConfirmStop(ModalScreen[str | None]):
    """Stop the worker? Its run ends, its queue is dropped, it takes no more input."""

    DEFAULT_CSS = """
    ConfirmStop { align: center middle; }
    ConfirmStop > Vertical { width: 64; height: auto; border: thick $error; padding: 1 2;
        background: $surface; }
    ConfirmStop Horizontal { height: auto; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Keep it")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Stop {self._name}? It ends its run and takes no more input.")
            yield Input(placeholder="Reason (optional); Enter stops", id="reason")
            with Horizontal():
                yield Button("Stop worker", variant="error", id="stop")
                yield Button("Keep it", id="keep")

    @on(Input.Submitted)
    @on(Button.Pressed, "#stop")
    def _stop(self) -> None:
        self.dismiss(self.query_one("#reason", Input).value.strip())

    @on(Button.Pressed, "#keep")
    def _keep(self) -> None:
        self.dismiss(None)


class ConsoleScreen(BackedScreen):
    """The console of the worker ``runtime_id + worker_id``."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "stop", "Stop worker")]

    def __init__(self, runtime_id: str, worker_id: str) -> None:
        super().__init__()
        self.runtime_id = runtime_id
        self.worker_id = worker_id

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConsolePanel(self.runtime_id, self.worker_id)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.worker_id}@{self.runtime_id}"

    def on_backend_restored(self) -> None:
        self.panel.retry_now()

    @property
    def panel(self) -> ConsolePanel:
        return self.query_one(ConsolePanel)

    def action_stop(self) -> None:
        panel = self.panel

        async def stop(reason: str | None) -> None:
            if reason is not None:
                await panel.stop_worker(reason or None)

        self.app.push_screen(ConfirmStop(panel.assistant_name()), stop)
