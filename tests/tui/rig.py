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

from tests.orchestrator.stack import PERSON, make_repository
from textual.app import App
from textual.screen import Screen

from yoi.backend import Backend, EmbeddedSource, ModelLabel, create_backend_app
from yoi.backend.orchestration import OrchestratorOptions
from yoi.backend.profiles import workspace_bundle
from yoi.client.backend import BackendClient
from yoi.engine import Tool
from yoi.errors import YoiError
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.providers.demo import DEMO_REFERENCE, DemoModel
from yoi.providers.script import Turn
from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs
from yoi.server.listen import listening
from yoi.testing import ScriptedModel
from yoi.tickets import State, TicketStore
from yoi.tools.sandbox import SandboxMode
from yoi.workspace import Workspace

__all__ = [
    "DEADLINE",
    "EMBEDDED",
    "OrchestratedBackend",
    "ProbeApp",
    "TuiBackend",
    "orchestrated_backend",
    "tui_backend",
]

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


@dataclass
class OrchestratedBackend:
    """A backend over a git repository whose orchestrator runs queued tickets (or is off)."""

    url: str
    backend: Backend
    tickets: TicketStore
    root: Path

    def connect(self) -> BackendClient:
        return BackendClient(self.url, timeout=5.0)

    def queue(self, title: str, body: str = "Do it.\n") -> str:
        """A new ticket, moved to ``queued``: the orchestrator picks it up."""
        ticket = self.tickets.create(title, body, author=PERSON).id
        for state in (State.READY, State.QUEUED):
            self.tickets.move(ticket, state, author=PERSON)
        return ticket


@asynccontextmanager
async def orchestrated_backend(
    tmp_path: Path,
    *,
    settings: OrchestratorSettings | None = None,
    on: bool = True,
    model_problem: str | None = None,
    clock: Callable[[], int] | None = None,
) -> AsyncIterator[OrchestratedBackend]:
    """A backend whose orchestrator works on the demo playbook model in a temporary git
    repository (no sandbox); ``on=False`` serves none, ``model_problem`` one that says why
    it starts nothing; ``clock`` (milliseconds) fixes the ticket ids."""
    root = make_repository(tmp_path / "repository")
    folder = root / ".yoi" / "tickets"
    tickets = TicketStore(folder) if clock is None else TicketStore(folder, clock=clock)
    chosen = settings or OrchestratorSettings(pass_interval=0.5)
    options = OrchestratorOptions(
        root=root, settings=chosen, model_problem=model_problem, sandbox=SandboxMode.NONE
    )
    model = DemoModel()
    workdirs = Workdirs(repositories=[root], folder=root / ".worktree", shared=True, spares=1)
    async with Runtime(runtime_id="local", model=model, workdirs=workdirs) as work:
        backend = Backend(
            runtime=Runtime(runtime_id=EMBEDDED, model=model),
            bundle=workspace_bundle(Workspace(root)),
            model=ModelLabel(DEMO_REFERENCE, False),
            remotes=[EmbeddedSource(work)],
            tickets=tickets,
            ticket_author=PERSON,
            orchestrator=options if on else None,
            workspace_name="tui-test",
        )
        async with backend, listening(create_backend_app(backend), "127.0.0.1", 0) as listener:
            url = f"http://127.0.0.1:{listener.port}"
            yield OrchestratedBackend(url, backend, tickets, root)
