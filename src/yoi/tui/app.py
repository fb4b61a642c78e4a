"""``YoiApp``: the terminal UI's shell — header, key bar, command palette, screens by name,
errors shown inline, and the link to the backend.

Screens are opened by name (:data:`SCREENS`) and imported when first opened,
so starting the app loads only the board. Each screen composes its own
``Header()`` and ``Footer()``; the header's sub-title is the app's, which says
whether the backend answers. A watcher asks ``health()`` about once a second:
when the backend goes away the sub-title says "reconnecting…" and every
screen in the stack gets :class:`BackendLost`; when it answers again they get
:class:`BackendRestored` and load what they show again.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.screen import Screen

from yoi.client.backend import BackendClient
from yoi.errors import UnsupportedOperation, YoiError
from yoi.tui.connection import Change, Connection, describe

__all__ = ["SCREENS", "BackendLost", "BackendRestored", "ScreenSpec", "YoiApp"]

HEALTH_EVERY = 1.0
"""Seconds between two health checks."""
HEALTH_TIMEOUT = 3.0
"""A health check slower than this counts as no answer."""


@dataclass(frozen=True, slots=True)
class ScreenSpec:
    module: str
    """Under ``yoi.tui``."""
    cls: str
    help: str


SCREENS: dict[str, ScreenSpec] = {
    "board": ScreenSpec("board", "BoardScreen", "The ticket board"),
    "ticket": ScreenSpec("ticket", "TicketScreen", "One ticket"),
    "workers": ScreenSpec("workers", "WorkersScreen", "Runtimes and workers"),
    "console": ScreenSpec("console", "ConsoleScreen", "A worker's console"),
    "companion": ScreenSpec("companion", "CompanionScreen", "The Companion"),
    "orchestrator": ScreenSpec("orchestrator", "OrchestratorScreen", "Runs in flight"),
}
TOP_LEVEL = ("board", "workers", "orchestrator", "companion")
"""The screens opened without arguments: a key and a palette command each."""


class BackendLost(Message):
    """The backend stopped answering; the app keeps asking."""


class BackendRestored(Message):
    """The backend answers again: load what the screen shows again."""


class ScreenCommands(Provider):
    """One palette command per top-level screen."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        assert isinstance(app, YoiApp)
        return [(f"Open {name}", SCREENS[name].help, partial(app.open, name)) for name in TOP_LEVEL]

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)


class YoiApp(App[None]):
    """The workspace in a terminal, as a client of the backend at ``connect()``."""

    TITLE = "yoi"
    COMMANDS = App.COMMANDS | {ScreenCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "open('board')", "Board"),
        Binding("w", "open('workers')", "Workers"),
        Binding("o", "open('orchestrator')", "Orchestrator"),
        Binding("c", "open('companion')", "Companion"),
        Binding("escape", "go_back", "Back", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        connect: Callable[[], BackendClient],
        *,
        start: str = "board",
        health_every: float = HEALTH_EVERY,
    ) -> None:
        super().__init__()
        self._connect = connect
        self._client = connect()
        self._start = start
        self._health_every = health_every
        self.connection = Connection()
        self.reported: list[BaseException] = []
        """Every error shown, oldest first (what a test or a log reads)."""

    @property
    def client(self) -> BackendClient:
        """The connected backend client (a new one after the backend came back)."""
        return self._client

    def report(self, error: BaseException) -> None:
        """Show ``error`` inline as ``code: message``, never as a traceback."""
        self.reported.append(error)
        self.notify(describe(error), severity="error", timeout=8)

    def open(self, name: str, *args: str) -> None:
        """Open the screen called ``name``; a top-level one already open comes to the top."""
        spec = SCREENS.get(name)
        if spec is None:
            self.report(UnsupportedOperation(f"no screen called {name!r}"))
            return
        try:
            cls = getattr(importlib.import_module(f"yoi.tui.{spec.module}"), spec.cls)
        except (ImportError, AttributeError):
            self.report(UnsupportedOperation(f"the {name} screen is not available"))
            return
        if not args and self._raise_existing(cls):
            return
        self.push_screen(cls(*args))

    def _raise_existing(self, cls: type[Screen[None]]) -> bool:
        """Pop back to an open screen of ``cls``, if there is one."""
        stack = self.screen_stack
        for depth, screen in enumerate(reversed(stack)):
            if isinstance(screen, cls):
                for _ in range(depth):
                    self.pop_screen()
                return True
        return False

    def action_open(self, name: str) -> None:
        self.open(name)

    def action_go_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def on_mount(self) -> None:
        self._show_link()
        self.open(self._start)
        self._watch()

    async def on_unmount(self) -> None:
        await self._client.aclose()

    # -- the link to the backend -----------------------------------------------

    @work(exclusive=True, group="health")
    async def _watch(self) -> None:
        while True:
            healthy, error = await self._check()
            self._observe(healthy, error)
            await asyncio.sleep(self._health_every)

    async def _check(self) -> tuple[bool, BaseException | None]:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                return await self._client.health(), None
        except TimeoutError as error:
            return False, error
        except YoiError as error:
            return False, error

    def _observe(self, healthy: bool, error: BaseException | None) -> None:
        change = self.connection.observe(healthy, error)
        if not healthy:
            self._reconnect()
        self._show_link()
        if change is Change.LOST:
            self._broadcast(BackendLost)
        elif change is Change.RESTORED:
            self._broadcast(BackendRestored)

    def _reconnect(self) -> None:
        """Ask ``connect()`` for a new client (it may lead to a backend that came back)."""
        old, self._client = self._client, self._connect()
        self.run_worker(old.aclose(), group="close")

    def _broadcast(self, message: type[Message]) -> None:
        for screen in self.screen_stack:
            screen.post_message(message())

    def _show_link(self) -> None:
        self.sub_title = self.connection.label
