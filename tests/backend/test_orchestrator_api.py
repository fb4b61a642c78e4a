"""The orchestrator inside the backend: its runtimes through the registry, its wake-ups from the
ticket feed, and ``/api/orchestrator`` and ``/api/tickets/{id}/explain`` on a real Backend over
a temporary git repository, through the ASGI app."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.rig import BUILTIN_BUNDLE, OFFLINE, RUNTIME_TOKEN
from tests.git_repo import git
from tests.server.asgi import error_of

from yoi.backend import (
    Backend,
    EmbeddedSource,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    RuntimeSource,
    Scrubber,
    create_backend_app,
)
from yoi.backend.orchestration import NO_MODEL, OrchestratorOptions, RegistryHosts
from yoi.backend.process import ServeOptions, serve_backend
from yoi.client import RuntimeClient
from yoi.errors import InvalidRequest, RuntimeNotFound, UnsupportedOperation
from yoi.orchestrator import Phase, Run, await_run, state_path
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.orchestrator.state import OrchestratorState
from yoi.runtime import CreateWorkerRequest, Runtime
from yoi.server.app import create_app
from yoi.server.listen import listening
from yoi.testing import ScriptedModel, Text
from yoi.tickets import EventKind, RelationKind, State, TicketStore
from yoi.workspace import Workspace

PERSON = "ann"
DEADLINE = 20.0
BLOCKED = "blocked_by_dependency_or_missing_authority"


def make_repository(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    return root


@dataclass
class Api:
    http: httpx.AsyncClient
    backend: Backend
    root: Path
    tickets: TicketStore

    async def get(self, path: str, status: int = 200) -> Any:
        response = await self.http.get(path)
        return self._checked(response, status)

    async def post(self, path: str, body: object = None, status: int = 200) -> Any:
        """A mutating request: JSON, as the admission rules want, even with no body."""
        if body is None:
            headers = {"Content-Type": "application/json"}
            response = await self.http.post(path, headers=headers)
        else:
            response = await self.http.post(path, json=body)
        return self._checked(response, status)

    def _checked(self, response: httpx.Response, status: int) -> Any:
        assert str(self.root) not in response.text
        if status >= 400:
            return error_of(response, status)
        assert response.status_code == status, response.text
        return response.json()


@asynccontextmanager
async def open_api(
    root: Path,
    options: OrchestratorOptions | None,
    *,
    intake: Runtime | None = None,
    local: RuntimeSource | None = None,
) -> AsyncIterator[Api]:
    """A backend over ``root``'s tickets (and a ``local`` runtime in-process), with the
    scrubber ``yoi serve`` gives it."""
    tickets = TicketStore.for_workspace(root)
    async with Runtime(runtime_id="local") as work:
        backend = Backend(
            runtime=intake or Runtime(runtime_id="backend-internal"),
            bundle=BUILTIN_BUNDLE,
            model=OFFLINE,
            remotes=[local or EmbeddedSource(work)],
            scrubber=Scrubber([str(root)]),
            tickets=tickets,
            ticket_author=PERSON,
            orchestrator=options,
        )
        async with backend:
            transport = httpx.ASGITransport(app=create_backend_app(backend))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as h:
                yield Api(h, backend, root, TicketStore.for_workspace(root))


def offline(root: Path, **settings: Any) -> OrchestratorOptions:
    """What ``yoi serve`` asks for on the offline model: state opened, no loop."""
    return OrchestratorOptions(
        root=root, settings=OrchestratorSettings(**settings), model_problem=NO_MODEL
    )


def queued(store: TicketStore, title: str) -> str:
    ticket = store.create(title, "Do it.\n", author=PERSON).id
    store.move(ticket, State.READY, author=PERSON)
    store.move(ticket, State.QUEUED, author=PERSON)
    return ticket


def blocked_pair(store: TicketStore) -> tuple[str, str]:
    """A ticket a person works on (in progress, no run), and a queued one that depends on it."""
    first = queued(store, "Lay the groundwork")
    store.move(first, State.INPROGRESS, author=PERSON)
    second = store.create("Build on it", "Second.\n", author=PERSON).id
    store.add_relation(second, RelationKind.DEPENDS_ON, first, author=PERSON)
    store.move(second, State.READY, author=PERSON)
    store.move(second, State.QUEUED, author=PERSON)
    return first, second


def seed_run(root: Path, ticket_id: str, **fields: Any) -> Run:
    now = time.time()
    run = Run(
        ticket_id=ticket_id,
        attempt=1,
        phase=Phase.REVIEWING,
        started_at=now,
        updated_at=now,
        branch=f"work/{ticket_id}-build",
        review_round=2,
        coder_worker_id=f"yoi-coder-{ticket_id.lower()}-build",
        **fields,
    )
    state_path(root).parent.mkdir(parents=True, exist_ok=True)
    with OrchestratorState.open(state_path(root)) as state:
        state.save(run)
    return run


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_repository(tmp_path / "workspace")


# -- status ----------------------------------------------------------------------------------


async def test_status_lists_each_run_with_its_phase_the_waiting_tickets_and_no_model(
    root: Path,
) -> None:
    store = TicketStore.for_workspace(root)
    running = store.create("Build the thing", "Build it.\n", author=PERSON).id
    seed_run(root, running)
    _, waiting = blocked_pair(store)
    async with open_api(root, offline(root)) as api:
        status = await api.get("/api/orchestrator")
    assert status["enabled"] is True
    assert status["ready"] is False
    assert status["problems"] == [{"code": "no_model", "message": NO_MODEL}]
    [run] = status["runs"]
    assert run["ticket_id"] == running
    assert run["title"] == "Build the thing"
    assert (run["phase"], run["review_round"], run["over"]) == ("reviewing", 2, False)
    coder = f"yoi-coder-{running.lower()}-build"
    assert run["coder"] == {"runtime_id": "local", "worker_id": coder}
    assert run["reviewer"] is None
    assert [wait["ticket_id"] for wait in status["waiting"]] == [waiting]
    assert "(no_model, see its problems)" in status["waiting"][0]["sentence"]


async def test_a_backend_without_an_orchestrator_says_it_is_off(root: Path) -> None:
    async with open_api(root, None) as api:
        status = await api.get("/api/orchestrator")
        assert api.backend.orchestration.orchestrator is None
    assert status == {
        "enabled": False,
        "ready": False,
        "target_branch": "orchestration",
        "max_parallel": 2,
        "problems": [],
        "runs": [],
        "waiting": [],
    }


async def test_enabled_false_in_config_makes_no_orchestrator(root: Path) -> None:
    config = root / ".yoi" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[orchestrator]\nenabled = false\nmax_parallel = 3\n")
    options = OrchestratorOptions(root=root, settings=OrchestratorSettings.from_toml(config))
    async with open_api(root, options) as api:
        status = await api.get("/api/orchestrator")
        assert api.backend.orchestration.orchestrator is None
    assert (status["enabled"], status["ready"], status["max_parallel"]) == (False, False, 3)
    assert status["runs"] == status["problems"] == []
    assert not state_path(root).exists()  # nothing was opened
    assert "orchestration" not in git(root, "branch", "--list")


async def test_a_workspace_outside_git_has_the_orchestrator_off_and_says_why(
    tmp_path: Path,
) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    async with open_api(root, offline(root)) as api:
        status = await api.get("/api/orchestrator")
    assert status["enabled"] is False
    assert [problem["code"] for problem in status["problems"]] == ["not_a_repository"]


async def test_an_orchestrator_that_cannot_open_is_a_problem_not_a_dead_backend(
    tmp_path: Path,
) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")  # no commit to start the integration branch from
    async with open_api(root, offline(root)) as api:
        status = await api.get("/api/orchestrator")
        assert (await api.get("/api/health"))["status"] == "ok"
    assert status["enabled"] is False
    [problem] = status["problems"]
    assert problem["code"] == "invalid_request"
    assert "no commit" in problem["message"]


async def test_no_body_holds_the_workspace_path(root: Path) -> None:
    store = TicketStore.for_workspace(root)
    ticket = store.create("Leaky", "Body.\n", author=PERSON).id
    seed_run(root, ticket, stop_reason=f"could not write {root}/app.py")
    async with open_api(root, offline(root)) as api:
        response = await api.http.get("/api/orchestrator")
    assert response.status_code == 200
    assert str(root) not in response.text
    assert response.json()["runs"][0]["stop_reason"] == "could not write [redacted]/app.py"


# -- explain -----------------------------------------------------------------------------------


@pytest.mark.parametrize("on", [True, False], ids=["orchestrator", "off"])
async def test_explain_says_a_queued_ticket_waits_for_its_dependency(root: Path, on: bool) -> None:
    first, second = blocked_pair(TicketStore.for_workspace(root))
    async with open_api(root, offline(root) if on else None) as api:
        explained = await api.get(f"/api/tickets/{second.lower()}/explain")
    assert explained["ticket_id"] == second
    assert explained["state"] == "queued"
    assert explained["decision"]["routing"] == BLOCKED
    assert first in explained["sentence"]
    assert explained["sentence"] == explained["decision"]["reason"]
    assert [reason["ticket_id"] for reason in explained["reasons"]] == [first]
    assert explained["reasons"][0]["state"] == "inprogress"


async def test_explain_of_a_bad_id_is_400_and_of_a_missing_ticket_404(root: Path) -> None:
    async with open_api(root, offline(root)) as api:
        bad = await api.get("/api/tickets/not-a-ticket/explain", status=400)
        missing = await api.get("/api/tickets/00001KVZBCQH5/explain", status=404)
    assert bad["code"] == "invalid_ticket_id"
    assert missing["code"] == "ticket_not_found"


# -- stop and retry ------------------------------------------------------------------------------


async def test_stop_and_retry_of_a_ticket_without_a_run_are_typed_errors(root: Path) -> None:
    ticket = queued(TicketStore.for_workspace(root), "Nothing runs")
    async with open_api(root, offline(root)) as api:
        for verb in ("stop", "retry"):
            refused = await api.post(f"/api/orchestrator/runs/{ticket}/{verb}", status=400)
            assert refused["code"] == "invalid_request"
            missing = await api.post(f"/api/orchestrator/runs/00001KVZBCQH5/{verb}", status=404)
            assert missing["code"] == "ticket_not_found"
            bad = await api.post(f"/api/orchestrator/runs/nope/{verb}", status=400)
            assert bad["code"] == "invalid_ticket_id"


async def test_stop_and_retry_need_the_orchestrator(root: Path) -> None:
    ticket = queued(TicketStore.for_workspace(root), "Nothing runs")
    async with open_api(root, None) as api:
        for verb in ("stop", "retry"):
            off = await api.post(f"/api/orchestrator/runs/{ticket}/{verb}", {}, status=501)
            assert off["code"] == "unsupported_operation"


async def test_stop_ends_a_run_once_and_names_who_stopped_it(root: Path) -> None:
    store = TicketStore.for_workspace(root)
    ticket = queued(store, "Build the thing")
    seed_run(root, ticket)
    path = f"/api/orchestrator/runs/{ticket}"
    async with open_api(root, offline(root)) as api:
        multiline = await api.post(f"{path}/stop", {"by": "two\nlines"}, status=400)
        assert multiline["code"] == "invalid_request"
        retried = await api.post(f"{path}/retry", status=409)  # in flight: nothing to retry
        assert retried["code"] == "invalid_transition"
        stopped = await api.post(f"{path}/stop", {"by": "bo"})
        again = await api.post(f"{path}/stop", status=409)
        # The run is stopped, but the ticket is still queued, not in progress: no retry.
        refused = await api.post(f"{path}/retry", {}, status=409)
    assert (stopped["ticket_id"], stopped["phase"], stopped["over"]) == (ticket, "stopped", True)
    assert stopped["title"] == "Build the thing"
    assert stopped["stop_reason"] == "stopped_by_person"
    assert again["code"] == refused["code"] == "invalid_transition"
    thread = (root / ".yoi" / "tickets" / ticket / "thread.md").read_text(encoding="utf-8")
    assert "stopped by bo" in thread


# -- wake-ups and runtimes ------------------------------------------------------------------------


async def test_a_ticket_change_wakes_the_orchestrator(root: Path) -> None:
    """With passes an hour apart, only the ticket feed's word makes the pass that writes the
    queued ticket's decision."""
    options = OrchestratorOptions(root=root, settings=OrchestratorSettings(pass_interval=3600))
    async with open_api(root, options) as api:
        orchestrator = api.backend.orchestration.orchestrator
        assert orchestrator is not None
        async with asyncio.timeout(DEADLINE):
            await orchestrator.settled()  # the first pass, over an empty queue
        _, waiting = blocked_pair(api.tickets)
        await until_ticket(api, lambda: decisions(api.tickets, waiting) > 0)
        status = await api.get("/api/orchestrator")
    assert status["ready"] is True
    assert [wait["routing"] for wait in status["waiting"]] == [BLOCKED]


def decisions(store: TicketStore, ticket_id: str) -> int:
    events = store.get(ticket_id).events
    return sum(1 for event in events if event.kind == EventKind.DECISION)


async def until_ticket(api: Api, check: Callable[[], bool]) -> None:
    """Wait on the backend's ticket feed, with a deadline, until ``check`` holds."""
    feed = api.backend.ticket_feed
    assert feed is not None
    revision = feed.revision
    async with asyncio.timeout(DEADLINE):
        while not check():
            change = await feed.wait(revision)
            assert change is not None
            revision = change.revision


@asynccontextmanager
async def local_source(kind: str, runtime: Runtime) -> AsyncIterator[RuntimeSource]:
    if kind == "embedded":
        yield EmbeddedSource(runtime)
        return
    async with AsyncExitStack() as stack:
        served = await stack.enter_async_context(
            listening(create_app(runtime, token=RUNTIME_TOKEN), "127.0.0.1", 0)
        )
        settings = RemoteRuntimeSettings("local", served.url, timeout=5.0)
        client = RuntimeClient(served.url, token=RUNTIME_TOKEN, timeout=5.0)
        yield RemoteSource(settings, client, probing=Probing(interval=60.0))


@pytest.mark.parametrize("kind", ["embedded", "remote"])
async def test_the_hosts_drive_workers_through_the_registry(root: Path, kind: str) -> None:
    model = ScriptedModel([[Text("on it")]])
    async with (
        Runtime(runtime_id="local", model=model) as work,
        local_source(kind, work) as source,
        open_api(root, None, local=source) as api,
    ):
        if isinstance(source, RemoteSource):
            async with asyncio.timeout(DEADLINE):
                await source.until("available")
        hosts = RegistryHosts(api.backend.registry)
        with pytest.raises(RuntimeNotFound):
            hosts.host("elsewhere")
        host = hosts.host("local")
        request = CreateWorkerRequest(worker_id="yoi-coder-x", profile="coder")
        created = await host.create_worker(request)
        assert created.profile == "named:coder"  # the workspace's profile, through its bundle
        ack = await host.send_input("yoi-coder-x", "Build it.")
        async with asyncio.timeout(DEADLINE):
            finished = await await_run(host, "yoi-coder-x", ack.run_id)
        assert finished.result == "completed"
        page = await host.transcript("yoi-coder-x")
        assert [item.content for item in page.items][-1] == "on it"
        with pytest.raises(UnsupportedOperation):
            await host.delete_workdir("nowhere")
        assert (await host.stop_worker("yoi-coder-x")).stopped
    model.assert_consumed()


# -- yoi serve ---------------------------------------------------------------------------------


class Announced(io.StringIO):
    """What ``serve_backend`` prints; ``ready`` once it says where it listens."""

    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()

    def write(self, text: str) -> int:
        written = super().write(text)
        if "listening on" in self.getvalue():
            self.ready.set()
        return written

    @property
    def url(self) -> str:
        return self.getvalue().split("listening on ", 1)[1].strip()


def configure(root: Path, text: str) -> Workspace:
    workspace = Workspace(root)
    workspace.dot.mkdir(exist_ok=True)
    workspace.config.write_text("[local_runtime]\nenabled = false\n" + text, encoding="utf-8")
    return workspace


async def test_yoi_serve_opens_the_orchestrator_and_on_the_offline_model_says_so(
    root: Path,
) -> None:
    store = TicketStore.for_workspace(root)
    store.init()
    ticket = store.create("Seeded", "Body.\n", author=PERSON).id
    seed_run(root, ticket)
    workspace = configure(root, "[orchestrator]\nmax_parallel = 3\n")
    out, stop = Announced(), asyncio.Event()
    options = ServeOptions(workspace, listen="127.0.0.1:0")
    served = asyncio.create_task(serve_backend(options, {}, out, stop=stop))
    try:
        async with asyncio.timeout(DEADLINE):
            await out.ready.wait()
        async with httpx.AsyncClient(base_url=out.url) as http:
            response = await http.get("/api/orchestrator")
    finally:
        stop.set()
        await served
    assert response.status_code == 200, response.text
    assert str(root) not in response.text
    status = response.json()
    assert (status["enabled"], status["ready"], status["max_parallel"]) == (True, False, 3)
    assert status["problems"] == [
        {"code": "no_model", "message": NO_MODEL},
        {  # the local runtime is off here, and the coders need it
            "code": "runtime_not_found",
            "message": "there is no runtime local: the orchestrator needs it",
        },
    ]
    assert [run["ticket_id"] for run in status["runs"]] == [ticket]


async def test_a_mistake_in_the_orchestrator_table_stops_yoi_serve_at_start(root: Path) -> None:
    workspace = configure(root, "[orchestrator]\nmax_parallel = 0\n")
    options = ServeOptions(workspace, listen="127.0.0.1:0")
    out = Announced()
    with pytest.raises(InvalidRequest) as refused:
        async with asyncio.timeout(DEADLINE):
            await serve_backend(options, {}, out, stop=asyncio.Event())
    assert "orchestrator.max_parallel must be a whole number" in refused.value.message
    assert "listening on" not in out.getvalue()


async def test_stop_and_retry_are_refused_from_another_origin_or_as_a_form(root: Path) -> None:
    ticket = queued(TicketStore.for_workspace(root), "Nothing runs")
    seed_run(root, ticket)
    async with open_api(root, offline(root)) as api:
        for verb in ("stop", "retry"):
            path = f"/api/orchestrator/runs/{ticket}/{verb}"
            foreign = await api.http.post(path, json={}, headers={"Origin": "http://evil.test"})
            assert error_of(foreign, 403)["code"] == "forbidden_origin"
            form = await api.http.post(path, data={"by": "mallory"})
            assert error_of(form, 415)["code"] == "unsupported_media_type"
        status = await api.get("/api/orchestrator")
    assert status["runs"][0]["phase"] == "reviewing"  # nothing was stopped
