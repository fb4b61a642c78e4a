"""``yoi worker`` as a real process against a backend served in the test's own event loop."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.cli.rig import DEADLINE, Done, cli_env, refused_port, run_yoi
from tests.isolation import workspace_env

from yoi.backend import (
    EMBEDDED_RUNTIME_ID,
    Backend,
    ModelLabel,
    Probing,
    RemoteRuntimeSettings,
    RemoteSource,
    create_backend_app,
)
from yoi.backend.profiles import workspace_bundle
from yoi.cli.app import app
from yoi.cli.worker import DEFAULT_RUNTIME
from yoi.client import RuntimeClient
from yoi.errors import ProviderAuthError
from yoi.providers.script import Turn
from yoi.runtime import CreateWorkerRequest, Input, Runtime
from yoi.server.listen import listening
from yoi.testing import Call, Fail, ScriptedModel, Stall, Text, until
from yoi.workspace import Workspace

TOKEN = "worker-cli-token-never-printed"
INTERNAL = "backend-internal"


@dataclass
class Served:
    url: str
    backend: Backend
    runtime: Runtime
    cwd: Path

    async def yoi(self, *args: str, backend: bool = True, **env: str) -> Done:
        """``yoi worker [--backend URL] ARGS`` with this backend's token in the environment."""
        where = ("--backend", self.url) if backend else ()
        return await run_yoi("worker", *where, *args, cwd=self.cwd, env=cli_env(TOKEN, **env))

    async def raw(self, path: str, **params: str | int) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers) as http:
            response = await http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def served(tmp_path: Path, turns: list[Turn] | None = None) -> AsyncIterator[Served]:
    """A backend for the workspace ``tmp_path`` (with a remote runtime ``far`` that is down)."""
    (tmp_path / ".git").mkdir(exist_ok=True)
    runtime = Runtime(runtime_id=INTERNAL, model=ScriptedModel(turns or []))
    with refused_port() as port:
        far = RemoteRuntimeSettings("far", f"http://127.0.0.1:{port}")
        remote = RemoteSource(far, RuntimeClient(far.url), probing=Probing(interval=60.0))
        backend = Backend(
            runtime=runtime,
            bundle=workspace_bundle(Workspace(tmp_path)),
            model=ModelLabel("scripted:test", offline=True),
            remotes=[remote],
        )
        app = create_backend_app(backend, token=TOKEN)
        async with backend, listening(app, "127.0.0.1", 0) as listener:
            yield Served(listener.url, backend, runtime, tmp_path)


def test_the_default_runtime_is_the_backends_embedded_one() -> None:
    assert DEFAULT_RUNTIME == EMBEDDED_RUNTIME_ID


async def test_create_list_and_show_in_lines_and_in_json(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        made = await server.yoi(
            "create", "--id", "scribe", "--name", "Scribe", "--task", "write the notes"
        )
        assert (made.code, made.out) == (0, "scribe\n"), made.err
        as_json = await server.yoi("create", "--role", "tester", "--purpose", "tests", "--json")
        assert as_json.code == 0, as_json.err
        created = json.loads(as_json.out)["worker"]
        assert created["intent"] == {"kind": "role", "role": "tester", "purpose": "tests"}
        assert created["profile"] == "default"

        listed, listed_json, shown, shown_json, paged = await asyncio.gather(
            server.yoi("list"),
            server.yoi("list", "--json"),
            server.yoi("show", "scribe"),
            server.yoi("show", "scribe", "--json"),
            server.yoi("list", "--runtime", INTERNAL, "--limit", "1", "--status", "idle"),
        )
        assert listed.code == 0, listed.err
        header, *rows = listed.out.splitlines()
        assert header.split() == ["RUNTIME", "WORKER", "STATUS", "PROFILE", "NAME"]
        assert [row.split()[:3] for row in rows] == [
            [INTERNAL, "companion", "idle"],
            [INTERNAL, "scribe", "idle"],
            [INTERNAL, created["worker_id"], "idle"],
        ]
        assert "yoi: runtime far: runtime_unavailable: " in listed.err
        assert json.loads(listed_json.out) == await server.raw("/api/workers")

        assert shown.code == 0, shown.err
        lines = shown.out.splitlines()
        assert "worker     scribe" in lines
        assert "name       Scribe" in lines
        assert "intent     task: write the notes" in lines
        assert json.loads(shown_json.out) == await server.raw(
            f"/api/runtimes/{INTERNAL}/workers/scribe"
        )

        assert [row.split()[1] for row in paged.out.splitlines()[1:]] == ["companion"]
        assert "yoi: more workers: --after " in paged.err
        after = paged.err.split("--after ")[1].split()[0]
        rest = await server.yoi("list", "--runtime", INTERNAL, "--after", after, "--json")
        assert [item["worker_id"] for item in json.loads(rest.out)["workers"]] == [
            "scribe",
            created["worker_id"],
        ]


async def test_send_prints_the_run_and_the_transcript_pages_through_the_exchange(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, [[Text("Hi ", "there")]]) as server:
        worker = await server.runtime.create_worker()
        async with await server.runtime.subscribe(worker.worker_id) as events:
            sent = await server.yoi("send", worker.worker_id, "hello")
            await until(events, "run_finished", deadline=DEADLINE)
        assert sent.code == 0, sent.err
        run_id = sent.out.strip()

        full, first, as_json = await asyncio.gather(
            server.yoi("transcript", worker.worker_id),
            server.yoi("transcript", worker.worker_id, "--limit", "1"),
            server.yoi("transcript", worker.worker_id, "--json"),
        )
        assert full.out.splitlines() == ["#1 user: hello", "#2 assistant: Hi there"]
        assert first.out.splitlines() == ["#1 user: hello"]
        assert first.err == "yoi: more entries: --start 2\n"
        transcript = json.loads(as_json.out)
        assert transcript == await server.raw(
            f"/api/runtimes/{INTERNAL}/workers/{worker.worker_id}/transcript"
        )
        assert {item["run_id"] for item in transcript["transcript"]["items"]} == {run_id}


async def test_send_wait_streams_the_reply_and_a_failed_run_exits_1(tmp_path: Path) -> None:
    refusal = Fail(ProviderAuthError("Incorrect API key provided", status=401))
    async with served(tmp_path, [[Text("Hello", ", ", "world")], [refusal]]) as server:
        worker = await server.runtime.create_worker()
        waited = await server.yoi("send", worker.worker_id, "hi", "--wait")
        assert (waited.code, waited.out, waited.err) == (0, "Hello, world\n", "")

        piped = await run_yoi(
            *("worker", "--backend", server.url, "send", worker.worker_id, "-", "--wait"),
            cwd=server.cwd,
            env=cli_env(TOKEN),
            stdin="from stdin",
        )
        assert piped.code == 1
        assert "yoi: the run ended failed: provider_auth: Incorrect API key" in piped.err
        page = await server.runtime.transcript(worker.worker_id)
        assert [item.content for item in page.items][-1] == "from stdin"


async def read_until(stream: asyncio.StreamReader | None, text: str, seen: bytearray) -> None:
    """Read ``stream`` into ``seen`` until ``text`` is in it, within the deadline."""
    assert stream is not None
    async with asyncio.timeout(DEADLINE):
        while text.encode() not in seen:
            chunk = await stream.read(4096)
            assert chunk, f"the stream ended before {text!r}: {bytes(seen)!r}"
            seen.extend(chunk)


async def watch(server: Served, *args: str, until_out: str, act: Input | None = None) -> Done:
    """``yoi worker watch ARGS`` until ``until_out`` shows, sending ``act`` once it watches;
    then Ctrl-C."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "yoi", "worker", "--backend", server.url, "watch", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(TOKEN),
        cwd=server.cwd,
    )
    out, err = bytearray(), bytearray()
    try:
        await read_until(process.stderr, "watching ", err)
        if act is not None:
            await server.runtime.send_input(args[0], act)
        await read_until(process.stdout, until_out, out)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(DEADLINE):
            rest_out, rest_err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Done(process.returncode, (out + rest_out).decode(), (err + rest_err).decode())


async def test_watch_renders_text_as_it_streams_tool_calls_and_resumes_by_cursor(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [
        [Text("Let me look."), Call("lookup", {"q": "yoi"})],
        [Text("Found ", "it.")],
        [Text("Second ", "answer.")],
    ]
    async with served(tmp_path, turns) as server:
        worker = await server.runtime.create_worker(CreateWorkerRequest(display_name="watched"))
        first = await watch(server, worker.worker_id, until_out="Found it.", act=Input("search"))
        assert first.code == 0, first.err
        assert first.out.startswith("Let me look.")
        assert "Found it." in first.out
        err = first.err.splitlines()
        assert err[0] == f"watching watched@{INTERNAL} (idle)"
        assert "[input] search" in err
        assert '[tool] lookup {"q": "yoi"}' in err
        assert "[tool] lookup failed: unknown tool 'lookup'" in err
        assert err[-1].startswith("yoi: resume with --cursor ")
        cursor = err[-1].split()[-1]

        await server.runtime.send_input(worker.worker_id, "again")
        resumed = await watch(server, worker.worker_id, "--cursor", cursor, until_out="answer.")
        assert resumed.code == 0, resumed.err
        assert resumed.out.strip() == "Second answer."  # nothing of the first exchange again
        assert "[input] again" in resumed.err.splitlines()

        expired = await server.yoi("watch", worker.worker_id, "--cursor", "not-a-cursor")
        assert expired.code == 1
        assert "yoi: invalid_cursor: " in expired.err


async def test_backend_is_taken_after_the_subcommand_and_without_a_scheme(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        bare = server.url.removeprefix("http://")
        listed, coder = await asyncio.gather(
            server.yoi("list", "--backend", bare, backend=False),
            server.yoi("create", "--role", "coder", "--json", "--backend", bare, backend=False),
        )
        wrong = await server.yoi("list", "--backend", "ftp://" + bare, backend=False)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[1].split()[:2] == [INTERNAL, "companion"]
    assert coder.code == 0, coder.err
    assert json.loads(coder.out)["worker"]["profile"] == "coder"
    assert wrong.code == 1
    assert wrong.err.startswith("yoi: invalid_request: 'ftp://127.0.0.1:"), wrong.err
    assert "the scheme must be http or https" in wrong.err


async def test_cancel_and_stop(tmp_path: Path) -> None:
    async with served(tmp_path, [[Text("working"), Stall()]]) as server:
        worker = await server.runtime.create_worker()
        wid = worker.worker_id
        async with await server.runtime.subscribe(wid) as events:
            await server.runtime.send_input(wid, "go")
            await until(events, "text_delta")
            cancelled = await server.yoi("cancel", wid)
            assert (cancelled.code, cancelled.out) == (0, f"cancelled the run of {wid}\n")
        again = await server.yoi("cancel", wid, "--json")
        assert json.loads(again.out) == {"ack": {"worker_id": wid, "cancelled": False}}
        stopped = await server.yoi("stop", wid, "--reason", "done for today")
        assert (stopped.code, stopped.out) == (0, f"stopped {wid}\n")
        assert (await server.runtime.get_worker(wid)).status == "stopped"
        twice = await server.yoi("stop", wid)
        assert twice.out == f"{wid} was already stopped\n"


async def test_errors_are_one_typed_line_and_exit_1(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        with refused_port() as port:
            down = f"http://127.0.0.1:{port}"
            ghost, nowhere, bad_id, anonymous, unreachable = await asyncio.gather(
                server.yoi("show", "ghost"),
                server.yoi("transcript", "ghost", "--runtime", "nowhere"),
                server.yoi("send", "Not/An/Id", "hi"),
                server.yoi("list", YOI_BACKEND_TOKEN=""),
                server.yoi("--backend", down, "list", backend=False),
            )
    expected = [
        (ghost, "yoi: worker_not_found: "),
        (nowhere, "yoi: runtime_not_found: "),
        (bad_id, "yoi: invalid_request: "),
        (anonymous, "yoi: unauthorized: "),
        (unreachable, "yoi: runtime_unavailable: cannot reach the backend"),
    ]
    for done, start in expected:
        assert done.code == 1, done
        assert done.err.startswith(start), done.err
        assert len(done.err.splitlines()) == 1, done.err
        assert done.out == ""
        assert TOKEN not in done.err


async def test_without_backend_the_workspace_config_says_where_and_which_token(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as server:
        port = server.url.rsplit(":", 1)[1]
        (tmp_path / ".yoi").mkdir(exist_ok=True)
        (tmp_path / ".yoi" / "config.toml").write_text(
            f'[backend]\nlisten = "0.0.0.0:{port}"\ntoken_env = "MY_BACKEND_TOKEN"\n',
            encoding="utf-8",
        )
        nested = tmp_path / "src" / "deep"
        nested.mkdir(parents=True)
        env = workspace_env(YOI_BACKEND_TOKEN="not-this-one", MY_BACKEND_TOKEN=TOKEN)
        elsewhere = {**env, "YOI_BACKEND_URL": "http://[::1]:1"}
        listed, overridden = await asyncio.gather(
            run_yoi("worker", "list", "--json", cwd=nested, env=env),
            run_yoi("worker", "show", "companion", cwd=nested, env=elsewhere),
        )
        assert listed.code == 0, listed.err
        assert [item["worker_id"] for item in json.loads(listed.out)["workers"]] == ["companion"]
        assert overridden.code == 1
        assert overridden.err.startswith("yoi: runtime_unavailable: cannot reach the backend")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "--task", "x", "--role", "y"], "--task and --role do not go together"),
        (["create", "--task", "x", "--purpose", "y"], "--purpose goes with an assistant"),
        (["send", "w", "hi", "--wait", "--json"], "does not go with --json"),
    ],
)
def test_usage_mistakes_are_refused_before_any_request(args: list[str], says: str) -> None:
    with refused_port() as port:
        result = CliRunner().invoke(app, ["worker", "--backend", f"http://127.0.0.1:{port}", *args])
    assert result.exit_code == 2
    assert says in result.output
