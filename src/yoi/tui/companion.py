"""The Companion screen: a conversation with the workspace's own assistant.

The Companion is a worker like any other (``GET /api/companion`` names it): its
conversation is the worker console's :class:`~yoi.tui.console.ConsolePanel`, and what
is typed goes to ``POST /api/companion/messages``. When the offline scripted model
answers, the screen says so.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Header, Static

from yoi.client import OnBusy
from yoi.client.backend import CompanionInfo
from yoi.errors import YoiError
from yoi.tui.console import ConsolePanel
from yoi.tui.screen import BackedScreen

__all__ = ["OFFLINE_NOTE", "CompanionScreen"]

OFFLINE_NOTE = (
    "The offline scripted model is answering: start `yoi serve --model provider:model` "
    "(or set OPENAI_API_KEY / ANTHROPIC_API_KEY) to talk to a real one."
)


class CompanionScreen(BackedScreen):
    DEFAULT_CSS = """
    CompanionScreen #offline { color: $warning; height: auto; padding: 0 1; }
    CompanionScreen #companion-body { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.companion: CompanionInfo | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(OFFLINE_NOTE, id="offline", markup=False)
        yield Vertical(id="companion-body")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Companion"
        self.query_one("#offline").display = False
        self._find()

    def on_backend_restored(self) -> None:
        if self.companion is None:
            self._find()
        else:
            self.query_one(ConsolePanel).retry_now()

    @work(exclusive=True, group="find")
    async def _find(self) -> None:
        try:
            companion = await self.client.companion()
        except YoiError as error:
            self.report(error)
            return
        self.companion = companion
        self.query_one("#offline").display = companion.offline
        panel = ConsolePanel(
            companion.runtime_id,
            companion.worker_id,
            send=self._send,
            label=companion.display_name,
        )
        await self.query_one("#companion-body").mount(panel)

    async def _send(self, content: str, on_busy: OnBusy) -> object:
        return await self.client.send_to_companion(content, on_busy)
