"""Process tests: the local runtime (the ``yoi runtime serve`` child of ``yoi serve``) ends
while a ticket's coder or reviewer is mid-run — killed with SIGKILL, stopped with SIGTERM, or
told to stop by the kernel because ``yoi serve`` itself was killed. The runtime comes back,
the orchestrator asks the worker again from the step it had recorded (a restart's doing, no
failed try and no fix round), and the ticket is done with nothing done twice: one coder, one
reviewer, one merge, one ``→ done``. Afterwards every worker is idle or stopped, no runtime
process outlives ``yoi serve``, and no command the dead runtime's worker ran is left running.

The held role's model is a fake OpenAI server: it answers the worker's first model request
with a tool call (a file written or read) and never answers the second, so the runtime ends
mid-run; or the first call is a long command, running when the runtime dies. The other roles
answer on the demo playbook model.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from tests.backend.test_orchestrator_failpoints import ARGS, assert_once_each, listening, queued
from tests.backend.test_orchestrator_process import (
    Status,
    all_done,
    configured_repository,
    status_until,
)
from tests.backend.test_process import Served, Serving
from tests.git_repo import git
from tests.server.test_process import KEY, clean_env

from yoi.orchestrator.asks import INTERRUPTED
from yoi.orchestrator.operations import OperationStatus
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.providers.script import Call, Stall, Text, Turn
from yoi.testing import FakeOpenAIServer

DEADLINE = 60.0
CONFIG = """\
[orchestrator]
max_parallel = 1
pass_interval = 1
validation = ["true"]

[roles.{role}]
model = "openai:gpt-{role}-held"
"""
Worker = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Held:
    """A role whose worker is held mid-run when the runtime dies: by the fake model (its
    second request never answered) or by a command it runs (``sandbox``: the local runtime's).
    The model requests in order, the step asked again, and a file the merge then has."""

    role: str
    turns: Callable[[str, str], list[Turn]]
    step: str
    merged: Callable[[str], tuple[str, str]]
    sandbox: str | None = None
    signal: signal.Signals = signal.SIGKILL

    @property
    def name(self) -> str:
        name = self.role if self.sandbox is None else f"{self.role}-command-{self.sandbox}"
        return name if self.signal is signal.SIGKILL else f"{name}-{self.signal.name}"


def coder_turns(ticket: str, _: str) -> list[Turn]:
    """A file written, then held; asked again after the restart, the coder commits what it
    wrote before and reports."""
    return [
        [Call("write_file", {"path": "greeting.txt", "content": "hello\n"})],
        [Stall()],
        *committed(ticket),
    ]


def command_turns(ticket: str, marker: str) -> list[Turn]:
    """A command that runs on (named ``marker``), held there; asked again after the restart,
    the coder writes, commits and reports."""
    command = {"command": f"exec -a {marker} sleep 300", "timeout": 600}
    return [
        [Call("bash", command)],
        [Call("write_file", {"path": "greeting.txt", "content": "hello\n"})],
        *committed(ticket),
    ]


def committed(ticket: str) -> list[Turn]:
    report = {"summary": "Wrote greeting.txt; committed.", "files": ["greeting.txt"]}
    return [
        [Call("git_commit", {"message": f"{ticket}: Add a greeting", "all": True})],
        [Call("submit_report", {**report, "commands": []})],
        [Text("Committed and reported.")],
    ]


def reviewer_turns(ticket: str, _: str) -> list[Turn]:
    """A file read, then held; asked again after the restart, the reviewer approves."""
    approved = {"verdict": "approve", "summary": f"{ticket} is fine.", "findings": []}
    return [
        [Call("read_file", {"path": "app.py"})],
        [Stall()],
        [Call("submit_review", approved)],
        [Text("Approved.")],
    ]


def greeting(_: str) -> tuple[str, str]:
    return "greeting.txt", "hello\n"


HELD = [
    Held("coder", coder_turns, "code", greeting),
    Held("reviewer", reviewer_turns, "review", lambda t: (f"notes/{t}.md", "# Add a greeting\n")),
    Held("coder", command_turns, "code", greeting, sandbox="bwrap"),
    Held("coder", command_turns, "code", greeting, sandbox="none"),
    Held("coder", coder_turns, "code", greeting, signal=signal.SIGTERM),
]
UNCONFINED_ORPHAN = pytest.mark.xfail(
    strict=True,
    reason="an unconfined command (sandbox = 'none') has its own session and no parent-death "
    "signal: the runtime's SIGKILL leaves it running",
)


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as started:
        yield started


@pytest.mark.parametrize(
    "held",
    [pytest.param(h, marks=[UNCONFINED_ORPHAN] if h.sandbox == "none" else []) for h in HELD],
    ids=[h.name for h in HELD],
)
async def test_the_local_runtime_killed_mid_run_comes_back_and_the_run_goes_on_once(
    serving: Serving, tmp_path: Path, held: Held
) -> None:
    sandbox = "" if held.sandbox is None else f'[local_runtime]\nsandbox = "{held.sandbox}"\n'
    root = configured_repository(tmp_path, CONFIG.format(role=held.role) + sandbox)
    [ticket] = queued(root, ("Add a greeting",))
    marker = f"yoi-held-{secrets.token_hex(6)}"
    async with FakeOpenAIServer(held.turns(ticket, marker)) as fake, running_as(marker):
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)
        served = await listening(serving, await serving.start(root, *ARGS, env=env))
        assert isinstance(served, Served), served
        if held.sandbox is None:
            waiting = await status_until(served, lambda _: len(fake.requests) >= 2)
        else:
            await until(lambda: _running(marker))
            waiting = await status_until(served, lambda _: True)
        worker_id = worker_of(waiting, ticket, held.role)
        killed = runtime_child(served)
        async with httpx.AsyncClient(base_url=served.loopback, timeout=DEADLINE) as http:
            assert (await worker(http, worker_id))["status"] == "running"
            os.kill(killed, held.signal)
            successor = await until(lambda: _successor(served, killed))
            await until(lambda: _available(http))
            final = await status_until(served, all_done([ticket]))
            listed = await http.get("/api/workers", params={"runtime_id": "local", "limit": 200})
            assert listed.status_code == 200, listed.text
            workers: list[Worker] = listed.json()["workers"]
            inputs = await inputs_of(http, worker_id)
        await serving.stop(served, signal.SIGTERM)
        fake.assert_consumed()
        left = processes_named(marker)  # before running_as kills what is left
    assert left == [], "the command of the killed runtime's worker runs on"
    assert not alive(killed)
    assert not alive(successor), "the restarted runtime outlived yoi serve"
    assert_asked_again_once(root, ticket, held, final, workers, inputs)


async def test_serve_killed_while_its_runtime_runs_a_coder_asks_again_not_for_a_fix(
    serving: Serving, tmp_path: Path
) -> None:
    """``yoi serve`` killed outright: its runtime, told by the kernel, stops in order and
    cancels the coder's run; the next ``yoi serve`` asks the coder again, as a restart's
    doing, not for a fix of a report never sent."""
    held = HELD[0]
    root = configured_repository(tmp_path, CONFIG.format(role=held.role))
    [ticket] = queued(root, ("Add a greeting",))
    async with FakeOpenAIServer(held.turns(ticket, "")) as fake:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)
        first = await listening(serving, await serving.start(root, *ARGS, env=env))
        assert isinstance(first, Served), first
        waiting = await status_until(first, lambda _: len(fake.requests) >= 2)
        worker_id = worker_of(waiting, ticket, held.role)
        orphaned = runtime_child(first)
        first.process.send_signal(signal.SIGKILL)
        assert (await serving.finish(first.process)).code == -signal.SIGKILL
        await until(lambda: _gone(orphaned))
        second = await listening(serving, await serving.start(root, *ARGS, env=env))
        assert isinstance(second, Served), second
        successor = runtime_child(second)
        final = await status_until(second, all_done([ticket]))
        async with httpx.AsyncClient(base_url=second.loopback, timeout=DEADLINE) as http:
            listed = await http.get("/api/workers", params={"runtime_id": "local", "limit": 200})
            assert listed.status_code == 200, listed.text
            workers: list[Worker] = listed.json()["workers"]
            inputs = await inputs_of(http, worker_id)
        await serving.stop(second, signal.SIGTERM)
        fake.assert_consumed()
    assert not alive(successor), "the runtime outlived yoi serve"
    assert_asked_again_once(root, ticket, held, final, workers, inputs)


def assert_asked_again_once(
    root: Path, ticket: str, held: Held, final: Status, workers: list[Worker], inputs: list[str]
) -> None:
    """Done once each (see :func:`assert_once_each`), every worker idle or stopped, the held
    worker's work merged, and its step asked twice: the try the runtime's end cut, counted as
    no failure, and one more."""
    assert_once_each(root, [ticket], final, [w["worker_id"] for w in workers])
    ours = [w for w in workers if w["worker_id"].startswith("yoi-")]
    assert {w["status"] for w in ours} <= {"idle", "stopped"}, ours
    path, text = held.merged(ticket)
    assert git(root, "show", f"orchestration:{path}") == text
    with OrchestratorState.open(state_path(root)) as state:
        failed = [s for s in state.steps(ticket) if s.status is OperationStatus.FAILED]
    assert failed, "the kill failed no step"
    assert {(s.key.kind, s.error) for s in failed} == {(held.step, INTERRUPTED)}, failed
    op = f"op={ticket}/1/{held.step}/0"  # sent, and once more as the try after the failed ones
    assert [line.rsplit(" ", 1)[-1] for line in inputs] == [f"{op}]", f"{op}#{len(failed) + 1}]"]


def worker_of(status: Status, ticket: str, role: str) -> str:
    [run] = [run for run in status["runs"] if run["ticket_id"] == ticket]
    assert run[role] is not None, run
    found: str = run[role]["worker_id"]
    return found


async def worker(http: httpx.AsyncClient, worker_id: str) -> Worker:
    response = await http.get(f"/api/runtimes/local/workers/{worker_id}")
    assert response.status_code == 200, response.text
    found: Worker = response.json()["worker"]
    return found


async def inputs_of(http: httpx.AsyncClient, worker_id: str) -> list[str]:
    """The first line of each input the worker was sent."""
    response = await http.get(f"/api/runtimes/local/workers/{worker_id}/transcript")
    assert response.status_code == 200, response.text
    items = response.json()["transcript"]["items"]
    return [i["content"].split("\n", 1)[0] for i in items if i["role"] == "user"]


async def until(found: Callable[[], Awaitable[T | None]]) -> T:
    """What ``found()`` gives once it is not ``None``, asked every 20 ms."""
    async with asyncio.timeout(DEADLINE):
        while True:
            value = await found()
            if value is not None:
                return value
            await asyncio.sleep(0.02)


async def _gone(pid: int) -> bool | None:
    return None if alive(pid) else True


async def _available(http: httpx.AsyncClient) -> bool | None:
    response = await http.get("/api/runtimes/local")
    assert response.status_code == 200, response.text
    return True if response.json()["runtime"]["status"] == "available" else None


async def _running(marker: str) -> bool | None:
    return True if processes_named(marker) else None


def processes_named(marker: str) -> list[int]:
    """The live processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextlib.asynccontextmanager
async def running_as(marker: str) -> AsyncIterator[None]:
    """Kills what still runs named ``marker`` on the way out (a test that failed leaves no
    command behind)."""
    try:
        yield
    finally:
        for pid in processes_named(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def runtime_child(served: Served) -> int:
    """The pid of the ``yoi runtime serve`` child ``yoi serve`` runs now."""
    found = runtime_children(served.process.pid)
    assert len(found) == 1, found
    return found[0]


async def _successor(served: Served, killed: int) -> int | None:
    found = [pid for pid in runtime_children(served.process.pid) if pid != killed]
    return found[0] if found else None


def runtime_children(parent: int) -> list[int]:
    """The live children of ``parent`` whose command is ``yoi runtime serve``."""
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        children += [int(pid) for pid in (task / "children").read_text().split()]
    return [pid for pid in children if alive(pid) and _is_runtime(pid)]


def _is_runtime(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return b"runtime" in argv and b"serve" in argv


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
