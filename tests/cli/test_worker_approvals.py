"""Approvals from the command line: ``yoi worker watch`` shows a held tool call with the exact
commands that answer it, ``allow`` / ``deny`` answer it, ``approvals`` lists what waits, and a
call no one answers in time shows as denied."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.cli.rig import DEADLINE, cli_env, run_yoi
from tests.cli.worker_rig import TOKEN, Served, served
from tests.deploy_tool import Deploy

from yoi.cli.worker_output import Answering, approval_lines
from yoi.providers.script import Turn
from yoi.runtime import RuntimeLimits
from yoi.runtime.events import ApprovalRequested
from yoi.testing import Call, Text

GUARDED = """+++
tools = ["deploy"]
permissions = ['deploy: "*production*" -> ask']
+++
You deploy when asked.
"""
RULE = 'deploy: "*production*" -> ask'


class Watching:
    """A ``yoi worker watch`` process whose output is read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.out = bytearray()
        self.err = bytearray()

    async def err_until(self, text: str) -> str:
        await _read_until(self.process.stderr, text, self.err)
        return self.err.decode()

    async def out_until(self, text: str) -> str:
        await _read_until(self.process.stdout, text, self.out)
        return self.out.decode()

    async def stop(self) -> tuple[int, str]:
        """Ctrl-C; its exit status and everything it wrote on stderr."""
        self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(DEADLINE):
            _, rest = await self.process.communicate()
        assert self.process.returncode is not None
        return self.process.returncode, (self.err + rest).decode()


async def _read_until(stream: asyncio.StreamReader | None, text: str, seen: bytearray) -> None:
    assert stream is not None
    async with asyncio.timeout(DEADLINE):
        while text.encode() not in seen:
            chunk = await stream.read(4096)
            assert chunk, f"the stream ended before {text!r}: {bytes(seen)!r}"
            seen.extend(chunk)


@asynccontextmanager
async def watching(server: Served, worker_id: str) -> AsyncIterator[Watching]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "yoi", "worker", "--backend", server.url, "watch", worker_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(TOKEN),
        cwd=server.cwd,
    )
    watch = Watching(process)
    try:
        await watch.err_until("watching ")
        yield watch
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def guarded(tmp_path: Path, *, wait: float = 300.0) -> AsyncIterator[tuple[Served, Deploy]]:
    """A backend whose worker ``ops`` may deploy, but only after a person allows a production
    deploy."""
    tool = Deploy()
    turns: list[Turn] = [[Call("deploy", {"target": "production"}, id="c1")], [Text("done")]]
    limits = RuntimeLimits(approval_timeout_seconds=wait)
    async with served(
        tmp_path,
        turns,
        workdirs=False,
        tools=[tool],
        profiles={"guarded": GUARDED},
        limits=limits,
    ) as server:
        made = await server.yoi(
            "create", "--id", "ops", "--profile", "guarded", "--capability", "deploy"
        )
        assert made.code == 0, made.err
        yield server, tool


def _command(block: str, verb: str) -> list[str]:
    """The command a watch printed for ``verb`` (``allow`` or ``deny``), as argv after ``yoi``."""
    line = next(line for line in block.splitlines() if line.strip().startswith(f"{verb}:"))
    words = shlex.split(line.split(":", 1)[1])
    assert words[:2] == ["yoi", "worker"], line
    return words[1:]


async def test_watch_shows_the_approval_and_its_allow_command_answers_it(tmp_path: Path) -> None:
    async with guarded(tmp_path) as (server, tool):
        async with watching(server, "ops") as watch:
            await server.runtime.send_input("ops", "ship it")
            shown = await watch.err_until("    deny:")
            approval_id = shown.split("[approval] ")[1].split(":")[0]
            assert f"[approval] {approval_id}: deploy waits for your answer" in shown
            assert '    arguments: {"target": "production"}' in shown
            assert f"    rule:      {RULE}" in shown
            assert "(no answer by then denies it)" in shown
            assert tool.calls == []

            allow = _command(shown, "allow")
            assert allow == ["worker", "allow", "ops", approval_id, "--backend", server.url]
            answered = await run_yoi(*allow, cwd=server.cwd, env=cli_env(TOKEN))
            assert (answered.code, answered.out) == (0, f"allowed {approval_id}\n"), answered.err

            await watch.err_until(f"[approval] {approval_id} allowed\n")
            await watch.out_until("done")
            code, err = await watch.stop()
        assert code == 0, err
        assert tool.calls == [{"target": "production"}]
        again = await server.yoi("deny", "ops", approval_id)
        assert again.code == 1
        assert again.err.startswith("yoi: approval_not_found: no approval "), again.err


async def test_a_call_no_one_answers_in_time_shows_as_denied(tmp_path: Path) -> None:
    async with guarded(tmp_path, wait=1.0) as (server, tool):
        async with watching(server, "ops") as watch:
            await server.runtime.send_input("ops", "ship it")
            shown = await watch.err_until("    deny:")
            approval_id = shown.split("[approval] ")[1].split(":")[0]
            expired = f"[approval] {approval_id} denied: no one answered before it expired\n"
            await watch.err_until(expired)
            await watch.out_until("done")
            code, err = await watch.stop()
        assert code == 0, err
        assert tool.calls == []


async def test_approvals_lists_what_waits_and_deny_refuses_it(tmp_path: Path) -> None:
    async with guarded(tmp_path) as (server, tool):
        none_yet = await server.yoi("approvals", "ops")
        assert (none_yet.code, none_yet.out) == (0, "")
        assert none_yet.err == "yoi: no approvals waiting for ops\n"
        async with await server.runtime.subscribe("ops") as events:
            await server.runtime.send_input("ops", "ship it")
            async with asyncio.timeout(DEADLINE):
                async for event in events:
                    if isinstance(event.event, ApprovalRequested):
                        asked = event.event
                        break
        listed, as_json, shown = await asyncio.gather(
            server.yoi("approvals", "ops"),
            server.yoi("approvals", "ops", "--json"),
            server.yoi("show", "ops"),
        )
        assert listed.code == 0, listed.err
        assert (
            listed.out.splitlines()[0]
            == f"[approval] {asked.approval_id}: deploy waits for your answer"
        )
        assert _command(listed.out, "deny") == [
            "worker",
            "deny",
            "ops",
            asked.approval_id,
            "--backend",
            server.url,
        ]
        waiting = json.loads(as_json.out)["approvals"]
        assert [item["approval_id"] for item in waiting] == [asked.approval_id]
        assert waiting[0]["expires_at"] == asked.expires_at
        assert (
            f"approvals  {asked.approval_id} (yoi worker approvals ops)" in shown.out.splitlines()
        )

        async with watching(server, "ops") as late:  # a watch started now learns of it too
            block = await late.err_until("    deny:")
            assert f"[approval] {asked.approval_id}: deploy waits" in block
            denied = await server.yoi("deny", "ops", asked.approval_id, "--json")
            assert json.loads(denied.out) == {
                "ack": {"approval_id": asked.approval_id, "decision": "deny"}
            }
            await late.err_until(f"[approval] {asked.approval_id} denied\n")
            await late.out_until("done")
            code, err = await late.stop()
        assert code == 0, err
        assert err.count(f"[approval] {asked.approval_id}: ") == 1
        assert tool.calls == []
        unknown = await server.yoi("allow", "ops", "ap-nothing")
        assert unknown.code == 1
        assert unknown.err.startswith("yoi: approval_not_found: ")
        assert len(unknown.err.splitlines()) == 1


def test_what_a_model_wrote_cannot_move_the_cursor_or_hide_part_of_an_approval() -> None:
    asked = ApprovalRequested(
        run_id="run-1",
        approval_id="ap-1",
        call_id="c1",
        tool="deploy",
        arguments='{"target": "prod\x1b[2K\rstaging\u202e"}\n' + "x" * 1000,
        rule=RULE,
        expires_at="2026-12-07T15:00:00.000Z",
    )
    lines = approval_lines(asked, Answering("ops", "far", "http://127.0.0.1:1/x y"))
    text = "\n".join(lines)
    for hidden in ("\x1b", "\r", "\n", "\u202e"):
        assert not any(hidden in line for line in lines), hidden
    assert "prod\\u001b[2K staging\\u202e" in text
    arguments = lines[1].removeprefix("    arguments: ")
    assert len(arguments) == 240
    assert arguments.endswith("...")
    allow = "yoi worker allow ops ap-1 --runtime far --backend 'http://127.0.0.1:1/x y'"
    assert lines[4] == f"    allow:     {allow}"
    assert len(lines) == 6
