"""The suite's CLI helpers never reach what the developer running the tests has running."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.cli.rig import DEADLINE, cli_env, run_yoi
from tests.isolation import isolated, isolated_env

CHECKOUT = Path(__file__).resolve().parents[1]
DEFAULT_PORT = 8787
"""Where ``yoi serve`` listens, and so where a client looks, unless told otherwise."""


@dataclass
class Listener:
    """A loopback port that counts the connections made to it and answers none of them."""

    port: int
    peers: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def strangers(self) -> int:
        """Connections other than our own marker, made last: the accept queue is in order,
        so once the marker is counted every earlier connection has been too."""
        _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        mine = writer.get_extra_info("sockname")[1]
        try:
            async with asyncio.timeout(DEADLINE):
                while mine not in self.peers:
                    await self.arrived.wait()
                    self.arrived.clear()
        finally:
            writer.close()
            await writer.wait_closed()
        return len([peer for peer in self.peers if peer != mine])


@asynccontextmanager
async def listener(port: int = 0) -> AsyncIterator[Listener]:
    counted = Listener(port)

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counted.peers.append(writer.get_extra_info("peername")[1])
        counted.arrived.set()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    counted.port = server.sockets[0].getsockname()[1]
    async with server:
        yield counted


def default_port_free() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the listener will
        try:
            probe.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            return False
        return True


async def test_chat_and_worker_list_reach_neither_the_developers_backend_nor_the_default_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the default port is taken (say, by the developer's own `yoi serve`), it cannot be
    # watched; the developer's variables still point at a listener here, and the CLI reaches
    # the default port only when no backend variable is set.
    default = listener(DEFAULT_PORT) if default_port_free() else listener()
    async with listener() as theirs, default as at_default:
        developer_home = tmp_path / "developer"
        monkeypatch.setenv("HOME", str(developer_home))
        monkeypatch.setenv("YOI_BACKEND_URL", theirs.url)
        monkeypatch.setenv("YOI_BACKEND_TOKEN", "the-developers-token")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-the-developers-key")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{theirs.url}/v1")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", theirs.url)
        workspace = tmp_path / "project"
        (workspace / ".git").mkdir(parents=True)
        env = cli_env("test-token")
        chat, listing = await asyncio.gather(
            run_yoi("chat", cwd=workspace, env=env, stdin="hi"),
            run_yoi("worker", "list", cwd=workspace, env=env),
        )
        plain = await run_yoi("chat", cwd=workspace, env=isolated_env(), stdin="hello")
        assert await theirs.strangers() == 0
        assert await at_default.strangers() == 0
    assert (chat.code, plain.code) == (0, 0), chat.err + plain.err
    assert chat.out.endswith("You said: hi\n")
    assert listing.code == 1
    assert listing.err.startswith("yoi: runtime_unavailable: "), listing.err
    assert str(developer_home) not in env["HOME"]


def test_the_environment_keeps_nothing_that_names_the_developers_yoi() -> None:
    developer = {
        "PATH": "/usr/bin",
        "HOME": "/home/dev",
        "XDG_CONFIG_HOME": "/home/dev/.config",
        "YOI_BACKEND_URL": "http://127.0.0.1:8787",
        "YOI_ANYTHING": "x",
        "OPENAI_BASE_URL": "http://model",
        "ANTHROPIC_API_KEY": "a",
        "GROQ_API_KEY": "g",
        "https_proxy": "http://proxy",
        "GIT_INDEX_FILE": "/home/dev/.git/other-index",
    }
    env = isolated(developer, {"EXTRA": "kept"})
    assert env["PATH"] == "/usr/bin"
    assert env["EXTRA"] == "kept"
    assert "/home/dev" not in " ".join(env.values())
    assert not {"YOI_ANYTHING", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GROQ_API_KEY"} & set(env)
    assert "https_proxy" not in env
    assert "GIT_INDEX_FILE" not in env
    assert env["YOI_BACKEND_URL"] != developer["YOI_BACKEND_URL"]
    assert "YOI_BACKEND_URL" not in isolated(developer, {}, backend_variable=False)


async def test_a_cli_process_may_not_run_inside_this_checkout() -> None:
    with pytest.raises(AssertionError, match="inside this checkout"):
        await run_yoi("--version", cwd=CHECKOUT / "src", env=isolated_env())
