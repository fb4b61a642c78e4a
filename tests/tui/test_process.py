"""``yoi tui`` as a real process in a pseudo-terminal, against a real ``yoi serve``: it draws
the board and quits on ``q``; and what it says without the tui extra."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import struct
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.backend.test_process import Serving, workspace_at
from tests.server.test_process import DEADLINE, SHUTDOWN, clean_env

from yoi.cli.app import app

COLUMNS, ROWS = 120, 36


class Terminal:
    """The master side of a pty: what the program drew so far, and keys to send it."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.screen = bytearray()
        self._more = asyncio.Event()
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the program closed its side
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.master)
        self.screen += chunk
        self._more.set()

    async def shows(self, text: str) -> None:
        async with asyncio.timeout(DEADLINE):
            while text.encode() not in self.screen:
                self._more.clear()
                await self._more.wait()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)


def _pty() -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    return master, slave


async def test_yoi_tui_draws_the_board_and_quits_on_q(tmp_path: Path) -> None:
    workspace = workspace_at(tmp_path)
    async with Serving(tmp_path) as serving:
        served = await serving.serve(workspace)
        master, slave = _pty()
        env = clean_env(TERM="xterm-256color", COLUMNS=str(COLUMNS), LINES=str(ROWS))
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "yoi", "tui", "--backend", served.loopback),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=workspace,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        terminal = Terminal(master)
        try:
            await terminal.shows("Planning")
            await terminal.shows("Closed")
            os.write(master, b"q")
            async with asyncio.timeout(SHUTDOWN):
                code = await process.wait()
            assert code == 0, bytes(terminal.screen[-2000:])
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            terminal.close()


def test_without_the_tui_extra_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "textual", None)  # as if Textual were not installed
    monkeypatch.setitem(sys.modules, "yoi.tui.app", None)
    result = CliRunner().invoke(app, ["tui", "--backend", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "yoi: unsupported_operation: the terminal UI needs the tui extra" in result.output
    assert "pip install 'yoi[tui]'" in result.output
