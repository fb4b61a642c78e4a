"""A real backend for the terminal UI's tests: in this process, on 127.0.0.1, scripted.

:func:`tui_backend` serves a :class:`~yoi.backend.Backend` (an embedded runtime playing the
test's scripted turns, and a ticket store in a temporary workspace) on a real socket, so the
TUI's :class:`~yoi.client.backend.BackendClient` reaches it over HTTP and WebSocket exactly as
``yoi tui`` reaches ``yoi serve``. :class:`ProbeApp` is a minimal app for testing one screen
before, or apart from, the whole :class:`~yoi.tui.app.YoiApp`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from textual.app import App
from textual.screen import Screen

from yoi.backend import Backend, ModelLabel, create_backend_app
from yoi.backend.profiles import workspace_bundle
from yoi.client.backend import BackendClient
from yoi.engine import Tool
from yoi.errors import YoiError
from yoi.providers.script import Turn
from yoi.runtime import Runtime
from yoi.server.listen import listening
from yoi.testing import ScriptedModel
from yoi.tickets import TicketStore
from yoi.workspace import Workspace

__all__ = ["DEADLINE", "EMBEDDED", "ProbeApp", "TuiBackend", "tui_backend"]

DEADLINE = 20.0
"""Seconds the UI has to show what a test waits for."""
EMBEDDED = "backend-internal"
MODEL = "scripted:tui"


@dataclass
class TuiBackend:
    url: str
    backend: Backend
    runtime: Runtime
    model: ScriptedModel
    tickets: TicketStore
    root: Path

    def connect(self) -> BackendClient:
        """A new client of this backend (what ``yoi tui`` makes from ``--backend URL``)."""
        return BackendClient(self.url, timeout=5.0)


@asynccontextmanager
async def tui_backend(
    tmp_path: Path, turns: Sequence[Turn] = (), *, tools: Sequence[Tool] = ()
) -> AsyncIterator[TuiBackend]:
    """A backend whose embedded runtime plays ``turns`` and offers ``tools``, with tickets."""
    root = tmp_path / "workspace"
    root.mkdir(parents=True, exist_ok=True)
    model = ScriptedModel(turns, name=MODEL)
    runtime = Runtime(runtime_id=EMBEDDED, model=model, tools=tools)
    tickets = TicketStore(root / ".yoi" / "tickets")
    backend = Backend(
        runtime=runtime,
        bundle=workspace_bundle(Workspace(root)),
        model=ModelLabel(MODEL, False),
        tickets=tickets,
        workspace_name="tui-test",
    )
    async with backend, listening(create_backend_app(backend), "127.0.0.1", 0) as listener:
        url = f"http://127.0.0.1:{listener.port}"
        yield TuiBackend(url, backend, runtime, model, tickets, root)


class ProbeApp(App[None]):
    """One screen under test, with the ``client`` and ``report`` a screen asks of its app;
    what was reported is kept in ``reported``."""

    def __init__(self, connect: Callable[[], BackendClient], screen: Callable[[], Screen[None]]):
        super().__init__()
        self._client = connect()
        self._screen = screen
        self.reported: list[BaseException] = []

    @property
    def client(self) -> BackendClient:
        return self._client

    def report(self, error: BaseException) -> None:
        self.reported.append(error)
        text = f"{error.code}: {error.message}" if isinstance(error, YoiError) else str(error)
        self.notify(text, severity="error")

    def on_mount(self) -> None:
        self.push_screen(self._screen())

    async def on_unmount(self) -> None:
        await self._client.aclose()
