"""``yoi chat`` on a terminal: the prompt, Ctrl-C cancelling a reply, Ctrl-D leaving."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from tests.cli.terminal import Terminal
from tests.isolation import isolated_env

from yoi.providers.script import Turn
from yoi.testing import FakeOpenAIServer, Stall, Text

DEADLINE = 60.0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
async def test_ctrl_c_cancels_the_reply_and_the_prompt_comes_back(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("partial answer"), Stall()], [Text("second reply")]]
    async with FakeOpenAIServer(turns) as server:
        env = isolated_env(OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=server.base_url)
        terminal = Terminal()
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "yoi.cli", "chat", "--model", "openai:gpt-test"),
            stdin=terminal.slave,
            stdout=terminal.slave,
            stderr=terminal.slave,
            env=env,
            cwd=tmp_path,
        )
        os.close(terminal.slave)
        try:
            async with asyncio.timeout(DEADLINE):
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
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            terminal.close()
    server.assert_consumed()
    shown = terminal.seen.decode()
    assert "yoi: chatting with openai:gpt-test" in shown
    assert "Traceback" not in shown
    assert [r.body["messages"][-1]["content"] for r in server.requests] == ["first", "second"]
