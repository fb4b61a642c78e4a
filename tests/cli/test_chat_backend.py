"""``yoi chat`` with a backend running: the Companion answers; without one, an embedded runtime."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.cli.rig import DEADLINE, Done, cli_env, refused_port, run_yoi
from tests.cli.terminal import Terminal
from tests.isolation import workspace_env

from yoi.backend import COMPANION_ID, Backend, ModelLabel, create_backend_app
from yoi.backend.profiles import workspace_bundle
from yoi.providers.script import Turn
from yoi.runtime import Runtime
from yoi.server.listen import listening
from yoi.testing import ScriptedModel, Stall, Text, until
from yoi.workspace import Workspace

TOKEN = "chat-backend-token-never-printed"
OFFLINE_NOTICE = (
    "yoi: no model configured; answering with the offline scripted model. "
    "Set OPENAI_API_KEY or ANTHROPIC_API_KEY, or pass --model provider:model.\n"
)


@dataclass
class Served:
    url: str
    runtime: Runtime

    async def companion_said(self) -> list[str]:
        page = await self.runtime.transcript(COMPANION_ID)
        return [item.content for item in page.items]


async def chat(*args: str, stdin: str, cwd: Path, env: dict[str, str]) -> Done:
    return await run_yoi("chat", *args, cwd=cwd, env=env, stdin=stdin)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


@asynccontextmanager
async def served(
    root: Path, turns: list[Turn], label: ModelLabel | None = None
) -> AsyncIterator[Served]:
    runtime = Runtime(runtime_id="backend-internal", model=ScriptedModel(turns))
    backend = Backend(
        runtime=runtime,
        bundle=workspace_bundle(Workspace(root)),
        model=label or ModelLabel("scripted:test", offline=True),
    )
    app = create_backend_app(backend, token=TOKEN)
    async with backend, listening(app, "127.0.0.1", 0) as listener:
        yield Served(listener.url, runtime)


async def test_piped_input_goes_to_the_companion_of_the_backend(workspace: Path) -> None:
    async with served(workspace, [[Text("Hello ", "from the ", "Companion")]]) as server:
        env = cli_env(TOKEN, YOI_BACKEND_URL=server.url)
        done = await chat(stdin="hi there\n", cwd=workspace, env=env)
        said = await server.companion_said()
    assert done.code == 0, done.err
    assert done.out == "Hello from the Companion\n"
    assert done.err == (
        f"yoi: chatting with the Companion of the backend at {server.url} "
        "(the offline scripted model)\n"
    )
    assert said == ["hi there\n", "Hello from the Companion"]


async def test_the_workspace_config_says_where_the_backend_listens(workspace: Path) -> None:
    label = ModelLabel("openai:gpt-test", offline=False)
    async with served(workspace, [[Text("configured")]], label) as server:
        port = server.url.rsplit(":", 1)[1]
        (workspace / ".yoi").mkdir()
        (workspace / ".yoi" / "config.toml").write_text(
            f'[backend]\nlisten = "0.0.0.0:{port}"\n', encoding="utf-8"
        )
        env = workspace_env(YOI_BACKEND_TOKEN=TOKEN)
        done = await chat(stdin="hello", cwd=workspace, env=env)
    assert done.code == 0, done.err
    assert done.out == "configured\n"
    assert done.err == (
        f"yoi: chatting with the Companion of the backend at http://127.0.0.1:{port} "
        "(openai:gpt-test)\n"
    )


async def test_a_backend_named_without_a_scheme_is_reached_over_http(workspace: Path) -> None:
    async with served(workspace, [[Text("plain http")]]) as server:
        bare = server.url.removeprefix("http://")
        done = await chat("--backend", bare, stdin="hi", cwd=workspace, env=cli_env(TOKEN))
    assert done.code == 0, done.err
    assert done.out == "plain http\n"


async def test_without_a_backend_an_embedded_runtime_answers(workspace: Path) -> None:
    with refused_port() as port:
        flag = ("--backend", f"http://127.0.0.1:{port}")
        done = await chat(*flag, stdin="hi", cwd=workspace, env=cli_env(TOKEN))
    assert done.code == 0, done.err
    assert done.err == OFFLINE_NOTICE
    assert done.out.endswith("You said: hi\n")


async def test_a_model_or_profile_asks_for_an_embedded_chat_even_with_a_backend(
    workspace: Path,
) -> None:
    async with served(workspace, []) as server:
        flag = ("--backend", server.url)
        done = await chat(
            *flag, "--profile", "default", stdin="hi", cwd=workspace, env=cli_env(TOKEN)
        )
        assert await server.companion_said() == []
    assert done.code == 0, done.err
    assert done.err == OFFLINE_NOTICE
    assert done.out.endswith("You said: hi\n")


async def test_a_busy_companion_is_a_typed_error(workspace: Path) -> None:
    async with (
        served(workspace, [[Text("busy"), Stall()]]) as server,
        await server.runtime.subscribe(COMPANION_ID) as events,
    ):
        await server.runtime.send_input(COMPANION_ID, "first")
        await until(events, "text_delta")
        done = await chat(
            "--backend", server.url, stdin="me too", cwd=workspace, env=cli_env(TOKEN)
        )
        await server.runtime.cancel_worker(COMPANION_ID)
    assert done.code == 1
    assert done.err.splitlines()[-1].startswith("yoi: worker_busy: ")
    assert TOKEN not in done.err


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_on_a_terminal_ctrl_c_cancels_the_companions_reply(workspace: Path) -> None:
    turns: list[Turn] = [[Text("partial answer"), Stall()], [Text("second reply")]]
    async with served(workspace, turns) as server:
        terminal = Terminal()
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "yoi", "chat", "--backend", server.url),
            stdin=terminal.slave,
            stdout=terminal.slave,
            stderr=terminal.slave,
            env=cli_env(TOKEN),
            cwd=workspace,
        )
        os.close(terminal.slave)
        try:
            await terminal.expect("you> ")
            terminal.type(b"first\n")
            await terminal.expect("partial answer")
            process.send_signal(signal.SIGINT)
            await terminal.expect("yoi: reply cancelled")
            await terminal.expect("you> ", times=2)
            terminal.type(b"second\n")
            await terminal.expect("second reply")
            await terminal.expect("you> ", times=3)
            terminal.type(b"\x04")
            async with asyncio.timeout(DEADLINE):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            terminal.close()
        said = await server.companion_said()
    shown = terminal.seen.decode()
    assert f"yoi: chatting with the Companion of the backend at {server.url}" in shown
    assert "Traceback" not in shown
    # The stalled run was cancelled on the backend (else "second" would be worker_busy);
    # a cancelled run keeps what it had said as its assistant entry.
    assert said == ["first", "partial answer", "second", "second reply"]
