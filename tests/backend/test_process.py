"""``yoi serve`` as a real process: the workspace, the Companion, restarts, tokens, signals.

Each test starts ``python -m yoi serve`` on a temporary workspace, drives
it over HTTP and WebSocket on loopback, and shares one process across as
many checks as it can: a process start costs about a second.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.isolation import isolated_env
from tests.server.test_process import (
    DEADLINE,
    SHUTDOWN,
    Done,
    Launcher,
    Processes,
    clean_env,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

EMBEDDED = "backend-internal"
TOKEN = "backend-token-never-printed-3f8a"
RUNTIME_TOKEN = "far-runtime-token-never-printed-6d2c"
_LISTENING = re.compile(r"listening on (http://\S+)")
_OFFLINE = "model: the offline scripted model"
IGNORED = "state/\ntickets/.ticket-backend.lock\ntickets/.new-*/\n"
"""What `yoi serve` keeps out of git: the runtime's store, the ticket lock, unfinished tickets."""

Frame = dict[str, Any]


@dataclass
class Served:
    """A backend process that has said where it listens."""

    process: asyncio.subprocess.Process
    lines: list[str]
    url: str
    """As printed: ``http://HOST:PORT``."""

    @property
    def loopback(self) -> str:
        """Where a test reaches it: the printed port on 127.0.0.1."""
        return "http://127.0.0.1:" + self.url.rsplit(":", 1)[1]


class Serving(Processes):
    """Starts ``yoi serve`` processes."""

    async def start(
        self, workspace: Path, *args: str, env: dict[str, str] | None
    ) -> asyncio.subprocess.Process:
        command = ("serve", "--workspace", str(workspace), *args)
        return await self.spawn(*command, env=clean_env() if env is None else env)

    async def serve(self, workspace: Path, *args: str, env: dict[str, str] | None = None) -> Served:
        """Start a backend (on a free loopback port unless told) and wait until it listens."""
        listen = args if "--listen" in args else (*args, "--listen", "127.0.0.1:0")
        process = await self.start(workspace, *listen, env=env)
        assert process.stdout is not None
        lines: list[str] = []
        async with asyncio.timeout(DEADLINE):
            while not lines or not lines[-1].startswith("listening on"):
                line = (await process.stdout.readline()).decode()
                if not line:
                    done = await self.finish(process)
                    raise AssertionError(
                        f"no listening line: {lines}; exit {done.code}: {done.err}"
                    )
                lines.append(line)
        found = _LISTENING.fullmatch(lines[-1].rstrip("\n"))
        assert found is not None, lines
        return Served(process, lines, found.group(1))

    async def refused(self, workspace: Path, *args: str, env: dict[str, str] | None = None) -> Done:
        """Start a backend that is expected to give up on its own."""
        listen = args if "--listen" in args else (*args, "--listen", "127.0.0.1:0")
        return await self.finish(await self.start(workspace, *listen, env=env))

    async def stop(self, served: Served, signum: int) -> Done:
        """Signal a backend; it must exit within ``SHUTDOWN`` seconds."""
        served.process.send_signal(signum)
        done = await self.finish(served.process, deadline=SHUTDOWN)
        return Done(done.code, "".join(served.lines) + done.out, done.err)


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as serving:
        yield serving


@pytest.fixture
async def runtimes(tmp_path: Path) -> AsyncIterator[Launcher]:
    async with Launcher(tmp_path) as runtimes:
        yield runtimes


def workspace_at(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def stream_url(base: str, runtime_id: str, worker_id: str) -> str:
    return (
        base.replace("http", "ws", 1) + f"/api/runtimes/{runtime_id}/workers/{worker_id}/events/ws"
    )


async def frame_of(connection: ClientConnection) -> Frame:
    async with asyncio.timeout(DEADLINE):
        frame: Frame = json.loads(await connection.recv(decode=True))
    return frame


async def frames_until(connection: ClientConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    seen = [await frame_of(connection)]
    while not done(seen[-1]):
        seen.append(await frame_of(connection))
    return seen


def finished(run_id: str) -> Callable[[Frame], bool]:
    def done(frame: Frame) -> bool:
        event = frame["event"]
        return bool(event["type"] == "run_finished" and event["run_id"] == run_id)

    return done


def text_of(frames: list[Frame]) -> str:
    return "".join(f["event"]["text"] for f in frames if f["event"]["type"] == "text_delta")


async def converse(
    http: httpx.AsyncClient, base: str, runtime_id: str, worker_id: str, path: str, content: str
) -> list[Frame]:
    """Post ``content`` to ``path`` while watching the worker; its frames until the run ends."""
    async with connect(stream_url(base, runtime_id, worker_id), open_timeout=DEADLINE) as stream:
        snapshot = await frame_of(stream)
        assert snapshot["event"]["type"] == "snapshot"
        sent = await http.post(path, json={"content": content})
        assert sent.status_code == 202, sent.text
        return await frames_until(stream, finished(sent.json()["ack"]["run_id"]))


async def transcript_of(
    http: httpx.AsyncClient, runtime_id: str, worker_id: str
) -> list[tuple[str, str]]:
    response = await http.get(f"/api/runtimes/{runtime_id}/workers/{worker_id}/transcript")
    assert response.status_code == 200, response.text
    return [(item["role"], item["content"]) for item in response.json()["transcript"]["items"]]


async def test_serve_makes_the_workspace_its_companion_answers_and_survives_a_restart(
    serving: Serving, tmp_path: Path
) -> None:
    workspace = workspace_at(tmp_path)
    first = await serving.serve(workspace)
    assert first.lines[:2] == [
        f"created the workspace {workspace / '.yoi'}\n",
        f"{workspace} is not in a git repository, so its tickets are not versioned "
        "(git init there, or pass --workspace DIR)\n",
    ]
    assert [line.startswith(_OFFLINE) for line in first.lines[2:]] == [True, False]
    assert first.url.startswith("http://127.0.0.1:")
    assert (workspace / ".yoi" / ".gitignore").read_text(encoding="utf-8") == IGNORED
    assert (workspace / ".yoi" / "state").is_dir()
    async with httpx.AsyncClient(base_url=first.url) as http:
        runtimes = (await http.get("/api/runtimes")).json()["runtimes"]
        assert [(r["runtime_id"], r["kind"], r["status"]) for r in runtimes] == [
            (EMBEDDED, "embedded", "available"),
            ("local", "local", "available"),
        ]
        companion = (await http.get("/api/companion")).json()["companion"]
        assert (companion["runtime_id"], companion["worker_id"], companion["offline"]) == (
            EMBEDDED,
            "companion",
            True,
        )
        frames = await converse(
            http, first.url, EMBEDDED, "companion", "/api/companion/messages", "hello companion"
        )
        reply = text_of(frames)
        assert reply.endswith("You said: hello companion")
        assert frames[-1]["event"]["result"] == "completed"
        talk = [("user", "hello companion"), ("assistant", reply)]
        assert await transcript_of(http, EMBEDDED, "companion") == talk

    locked = await serving.refused(workspace)
    assert locked.code == 1
    assert locked.err == (
        f"yoi: store_locked: another `yoi serve` (pid {first.process.pid}, {first.url}) "
        "already serves this workspace: stop it first, or talk to it (yoi chat, yoi worker list)\n"
    )
    assert "Traceback" not in locked.err
    assert "listening on" not in locked.out

    async with connect(stream_url(first.url, EMBEDDED, "companion")) as watching:
        assert (await frame_of(watching))["event"]["type"] == "snapshot"
        stopping = asyncio.create_task(serving.stop(first, signal.SIGTERM))
        async with asyncio.timeout(SHUTDOWN):
            await watching.wait_closed()
        done = await stopping
    assert watching.close_code == 1001
    assert done.code == 0, done.err

    second = await serving.serve(workspace)
    assert [line.startswith(_OFFLINE) for line in second.lines] == [True, False]
    async with httpx.AsyncClient(base_url=second.url) as http:
        companion = (await http.get("/api/companion")).json()["companion"]
        assert (companion["worker_id"], companion["status"]) == ("companion", "idle")
        assert await transcript_of(http, EMBEDDED, "companion") == talk
        workers = (await http.get("/api/workers")).json()["workers"]
        assert [(w["runtime_id"], w["worker_id"], w["runs"]) for w in workers] == [
            (EMBEDDED, "companion", 1)
        ]
    done = await serving.stop(second, signal.SIGINT)
    assert done.code == 0, done.err
    assert (workspace / ".yoi" / ".gitignore").read_text(encoding="utf-8") == IGNORED


async def test_a_port_in_use_is_its_own_error_with_a_way_out(
    serving: Serving, tmp_path: Path
) -> None:
    workspace = workspace_at(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await serving.refused(workspace, "--listen", f"127.0.0.1:{port}")
    assert done.code == 1
    assert done.err == (
        f"yoi: address_in_use: cannot listen on 127.0.0.1:{port}: Address already in use: "
        "another program listens there; pass --listen 127.0.0.1:0 to pick a free port "
        "(clients in this workspace find it)\n"
    )
    assert "listening on" not in done.out
    assert not (workspace / ".yoi" / "state" / "backend.json").exists()


async def git(workspace: Path, *args: str) -> None:
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    process = await asyncio.create_subprocess_exec(
        *("git", "-C", str(workspace), *identity, *args),
        stdout=asyncio.subprocess.DEVNULL,
        env=isolated_env(),
    )
    assert await process.wait() == 0


async def test_in_a_git_repository_serve_says_until_its_gitignore_is_committed(
    serving: Serving, tmp_path: Path
) -> None:
    workspace = workspace_at(tmp_path)
    await git(workspace, "init", "-q")
    first = await serving.serve(workspace)
    assert first.lines[:2] == [
        f"created the workspace {workspace / '.yoi'}\n",
        ".yoi/.gitignore (it keeps .yoi/state/ out of git) is not committed: "
        "git add .yoi/.gitignore && git commit -m 'yoi workspace'\n",
    ]
    locked = await serving.refused(workspace)
    assert (locked.code, locked.out) == (1, "")  # what to know is said by the one that serves
    assert (await serving.stop(first, signal.SIGTERM)).code == 0
    await git(workspace, "add", ".yoi/.gitignore")
    await git(workspace, "commit", "-q", "-m", "yoi workspace")
    second = await serving.serve(workspace)
    assert [line.startswith(_OFFLINE) for line in second.lines] == [True, False]
    assert (await serving.stop(second, signal.SIGTERM)).code == 0


async def test_beyond_loopback_serve_needs_a_token_and_never_shows_it(
    serving: Serving, tmp_path: Path
) -> None:
    workspace = workspace_at(tmp_path)
    refused = await serving.refused(workspace, "--listen", "0.0.0.0:0")
    assert refused.code == 1
    assert refused.err == (
        "yoi: invalid_request: refusing to listen on 0.0.0.0 without a token: anyone who can "
        "reach it could drive every runtime of this workspace; set YOI_BACKEND_TOKEN\n"
    )
    assert refused.out == ""

    env = clean_env(YOI_BACKEND_TOKEN=TOKEN)
    served = await serving.serve(workspace, "--listen", "0.0.0.0:0", env=env)
    assert served.url.startswith("http://0.0.0.0:")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=served.loopback) as http:
        assert (await http.get("/api/health")).status_code == 200
        anonymous = await http.get("/api/workspace")
        wrong = await http.get("/api/workspace", headers={"Authorization": "Bearer not-it"})
        with_bearer = await http.get("/api/workspace", headers=bearer)
        login = await http.post("/api/login", json={"token": TOKEN})
        with_cookie = await http.get("/api/workspace")
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert with_bearer.status_code == 200
    assert with_bearer.json()["workspace"]["name"] == "project"
    assert login.status_code == 204
    assert with_cookie.status_code == 200
    url = stream_url(served.loopback, EMBEDDED, "companion")
    with pytest.raises(InvalidStatus) as caught:
        await connect(url, open_timeout=DEADLINE)
    assert caught.value.response.status_code == 401
    async with connect(url, additional_headers=bearer, open_timeout=DEADLINE) as stream:
        assert (await frame_of(stream))["event"]["type"] == "snapshot"
    done = await serving.stop(served, signal.SIGTERM)
    assert done.code == 0, done.err
    assert TOKEN not in done.out + done.err


async def test_a_runtime_listed_in_the_config_is_joined_and_streams_through_the_backend(
    serving: Serving, runtimes: Launcher, tmp_path: Path
) -> None:
    far = await runtimes.serve(
        "--store",
        "fs",
        "--store-root",
        "far-state",
        "--runtime-id",
        "far",
        env=clean_env(YOI_RUNTIME_TOKEN=RUNTIME_TOKEN),
    )
    workspace = workspace_at(tmp_path)
    (workspace / ".yoi").mkdir()
    (workspace / ".yoi" / ".gitignore").write_text("notes/\n*.log", encoding="utf-8")
    (workspace / ".yoi" / "config.toml").write_text(
        "[[runtimes]]\n"
        'id = "far"\n'
        'display_name = "Far box"\n'
        f'url = "{far.url}"\n'
        'token_env = "FAR_TOKEN"\n',
        encoding="utf-8",
    )
    served = await serving.serve(workspace, env=clean_env(FAR_TOKEN=RUNTIME_TOKEN))
    assert (workspace / ".yoi" / ".gitignore").read_text(
        encoding="utf-8"
    ) == "notes/\n*.log\n" + IGNORED
    async with httpx.AsyncClient(base_url=served.url) as http:
        runtimes_now = (await http.get("/api/runtimes")).json()["runtimes"]
        assert [
            (r["runtime_id"], r["kind"], r["status"], r["display_name"]) for r in runtimes_now
        ] == [
            (EMBEDDED, "embedded", "available", "project (embedded)"),
            ("local", "local", "available", "project (local)"),
            ("far", "remote", "available", "Far box"),
        ]
        created = await http.post("/api/runtimes/far/workers", json={"worker_id": "w-far"})
        assert created.status_code == 201, created.text
        assert created.json()["worker"]["runtime_id"] == "far"
        path = "/api/runtimes/far/workers/w-far/input"
        frames = await converse(http, served.url, "far", "w-far", path, "hello far")
        reply = text_of(frames)
        assert reply.endswith("You said: hello far")
        assert await transcript_of(http, "far", "w-far") == [
            ("user", "hello far"),
            ("assistant", reply),
        ]
    done = await serving.stop(served, signal.SIGTERM)
    assert done.code == 0, done.err
    assert RUNTIME_TOKEN not in done.out + done.err
    assert (await runtimes.stop(far)).code == 0


async def test_serve_has_the_runtime_servers_connection_limits_and_host_check(
    serving: Serving, tmp_path: Path
) -> None:
    served = await serving.serve(workspace_at(tmp_path))
    port = int(served.loopback.rpartition(":")[2])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bomb: " + b"b" * 64 * 1024)
    async with asyncio.timeout(DEADLINE):
        refused = await reader.read()
    writer.close()
    async with httpx.AsyncClient(base_url=served.loopback) as http:
        rebound = await http.get("/api/health", headers={"Host": f"rebind.test:{port}"})
        alive = await http.get("/api/health")
    assert refused.startswith(b"HTTP/1.1 431 "), refused[:100]
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "forbidden_host"
    assert alive.status_code == 200
    done = await serving.stop(served, signal.SIGTERM)
    assert done.code == 0, done.err
