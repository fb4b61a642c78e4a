"""The local runtime ``yoi serve`` runs for its workspace: a real child, killed, restarted, stopped.

``serve_backend`` runs in this process on a temporary git workspace, so the
local runtime is this test process's child and can be found (and killed) by
its command line. Waiting is on process exits (pidfds) and on the API's
answers, polled with a short pause inside an overall deadline.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from tests.backend.test_no_leak import Announced
from tests.backend.test_process import converse, text_of, transcript_of
from tests.git_repo import tagged_repo
from tests.isolation import isolated_env
from tests.pids import exited as pid_exited

from yoi.backend.process import ServeOptions, serve_backend
from yoi.runtime.stores.fs.files import RootLock
from yoi.workspace import Workspace

DEADLINE = 30.0
"""Seconds for the backend to listen, or for the local runtime to come (back)."""
LOCAL = "local"
TOKEN_ENV = "YOI_LOCAL_RUNTIME_TOKEN"

Body = dict[str, Any]


@asynccontextmanager
async def served(
    workspace: Workspace,
    config: str = "",
    *,
    model: str = "scripted:offline",
    env: dict[str, str] | None = None,
) -> AsyncIterator[Announced]:
    """``yoi serve`` of ``workspace`` in this process, until the block ends."""
    workspace.dot.mkdir(exist_ok=True)
    workspace.config.write_text(config, encoding="utf-8")
    out, stop = Announced(), asyncio.Event()
    options = ServeOptions(workspace, listen="127.0.0.1:0", model=model)
    environment = isolated_env() if env is None else env
    serving = asyncio.create_task(serve_backend(options, environment, out, stop=stop))
    try:
        async with asyncio.timeout(DEADLINE):
            await asyncio.wait(
                [serving, asyncio.create_task(out.ready.wait())], return_when="FIRST_COMPLETED"
            )
        if serving.done():
            serving.result()
        yield out
    finally:
        stop.set()
        await serving


def local_children(workspace: Workspace) -> list[int]:
    """This process's children that run the local runtime of ``workspace``."""
    store = str(workspace.state / "runtimes" / LOCAL)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and store.encode() in argv:
            found.append(int(entry.name))
    return found


def the_child(workspace: Workspace) -> int:
    (pid,) = local_children(workspace)
    return pid


async def exited(pid: int) -> None:
    async with asyncio.timeout(DEADLINE):
        await pid_exited(pid)


async def local_view(http: httpx.AsyncClient, until: Callable[[Body], bool]) -> Body:
    """The local runtime's view, once ``until`` holds for it."""
    async with asyncio.timeout(DEADLINE):
        while True:
            response = await http.get(f"/api/runtimes/{LOCAL}")
            assert response.status_code == 200, response.text
            view: Body = response.json()["runtime"]
            if until(view):
                return view
            await asyncio.sleep(0.02)


def status_is(status: str) -> Callable[[Body], bool]:
    return lambda view: bool(view["status"] == status)


def says(start: str) -> Callable[[Body], bool]:
    """Unavailable, and saying why in a message that begins ``start``."""

    def check(view: Body) -> bool:
        messages = [d["message"] for d in view["diagnostics"]]
        return view["status"] == "unavailable" and any(m.startswith(start) for m in messages)

    return check


def token_and_argv(pid: int) -> tuple[bytes, bytes]:
    """The token in the child's environment, and its command line."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    prefix = f"{TOKEN_ENV}=".encode()
    (token,) = [entry.removeprefix(prefix) for entry in environ if entry.startswith(prefix)]
    return token, Path(f"/proc/{pid}/cmdline").read_bytes()


def git_workspace(tmp_path: Path) -> Workspace:
    return Workspace(tagged_repo(tmp_path / "project"))


async def test_the_local_runtime_serves_workers_comes_back_after_a_kill_and_ends_with_serve(
    tmp_path: Path,
) -> None:
    workspace = git_workspace(tmp_path)
    config = '[local_runtime]\nsandbox = "none"\n'
    async with served(workspace, config) as out, httpx.AsyncClient(base_url=out.url) as http:
        runtimes = (await http.get("/api/runtimes")).json()["runtimes"]
        assert [(r["runtime_id"], r["kind"], r["status"]) for r in runtimes] == [
            ("backend-internal", "embedded", "available"),
            (LOCAL, "local", "available"),
        ]
        view = runtimes[1]
        assert view["display_name"] == "project (local)"
        assert "read_file" in view["tools"]  # the workspace repository is allowed
        assert "sandbox_none" in [d["code"] for d in view["diagnostics"]]

        made = await http.post(f"/api/runtimes/{LOCAL}/workers", json={"worker_id": "w-here"})
        assert made.status_code == 201, made.text
        path = f"/api/runtimes/{LOCAL}/workers/w-here/input"
        frames = await converse(http, out.url, LOCAL, "w-here", path, "hello local")
        reply = text_of(frames)
        assert reply.endswith("You said: hello local")
        talk = [("user", "hello local"), ("assistant", reply)]

        coder = {"worker_id": "w-code", "profile": "coder", "workdir": {"base": "HEAD"}}
        made = await http.post(f"/api/runtimes/{LOCAL}/workers", json=coder)
        assert made.status_code == 201, made.text
        workdir = made.json()["worker"]["workdir"]
        assert workdir.startswith("wd-")  # made of the workspace repository
        assert "bash" in made.json()["worker"]["tools"]

        first = the_child(workspace)
        token, argv = token_and_argv(first)
        assert len(token) >= 32
        assert token not in argv

        os.kill(first, signal.SIGKILL)
        await exited(first)
        down = await local_view(http, says("the local runtime process was killed"))
        (problem,) = down["diagnostics"]
        assert problem["code"] == "runtime_unavailable"
        assert problem["message"].startswith(
            "the local runtime process was killed by SIGKILL; starting it again in "
        )
        refused = await http.get(f"/api/runtimes/{LOCAL}/workers/w-here")
        assert refused.json()["error"]["code"] == "runtime_unavailable", refused.text
        assert (await http.get("/api/health")).status_code == 200
        embedded = await http.get("/api/runtimes/backend-internal")
        assert embedded.json()["runtime"]["status"] == "available"

        await local_view(http, status_is("available"))
        second = the_child(workspace)
        assert second != first
        assert await transcript_of(http, LOCAL, "w-here") == talk
        listed = (await http.get(f"/api/workers?runtime_id={LOCAL}")).json()["workers"]
        assert sorted(w["worker_id"] for w in listed) == ["w-code", "w-here"]
        again = (await http.get(f"/api/runtimes/{LOCAL}/workers/w-code")).json()["worker"]
        assert (again["workdir"], "bash" in again["tools"]) == (workdir, True)
        body = (await http.get("/api/runtimes")).text
        assert token.decode() not in body
    await exited(second)
    assert local_children(workspace) == []
    assert token.decode() not in out.getvalue()


async def test_a_local_runtime_that_cannot_start_is_unavailable_with_its_reason_until_it_can(
    tmp_path: Path,
) -> None:
    workspace = git_workspace(tmp_path)
    root = workspace.state / "runtimes" / LOCAL
    root.mkdir(parents=True)
    taken = RootLock(root)  # as another runtime process on that store would hold it
    taken.acquire()
    try:
        async with served(workspace) as out, httpx.AsyncClient(base_url=out.url) as http:
            down = await local_view(http, says("the local runtime process did not start"))
            (problem,) = down["diagnostics"]
            assert problem["message"].startswith(
                "the local runtime process did not start: exited with status 1: yoi: store_locked: "
            ), problem
            assert "; starting it again in " in problem["message"]
            embedded = await http.get("/api/runtimes/backend-internal")
            assert embedded.json()["runtime"]["status"] == "available"
            taken.release()
            await local_view(http, status_is("available"))
    finally:
        taken.release()
    assert local_children(workspace) == []


async def test_enabled_false_runs_no_local_runtime(tmp_path: Path) -> None:
    workspace = git_workspace(tmp_path)
    async with served(workspace, "[local_runtime]\nenabled = false\n") as out:
        async with httpx.AsyncClient(base_url=out.url) as http:
            runtimes = (await http.get("/api/runtimes")).json()["runtimes"]
            missing = await http.get(f"/api/runtimes/{LOCAL}")
        assert [r["runtime_id"] for r in runtimes] == ["backend-internal"]
        assert missing.status_code == 404
        assert local_children(workspace) == []
