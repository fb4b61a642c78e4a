"""The web console's test rig: a real ``yoi serve``, a real remote runtime, a real Chromium.

:func:`open_console` starts, on 127.0.0.1:

- a fake OpenAI server (in this process) playing the test's scripted turns;
- ``yoi runtime serve`` as runtime ``far`` (fs store, a token), whose model
  is that fake server, so its workers stream real wire-format chunks;
- ``yoi serve`` on a temporary git-less workspace with the offline scripted
  model, joined to ``far`` by ``.yoi/config.toml``;
- Debian's Chromium, headless, driven by Playwright, on the backend's page.

Everything the browser receives (API bodies, WebSocket frames, the page
itself) is recorded, so a test can check that no runtime URL, token or local
path ever reached it; any page error or console error fails the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    WebSocket,
    async_playwright,
)
from tests.backend.test_process import Served as ServedBackend
from tests.backend.test_process import Serving
from tests.server.test_process import KEY, Launcher, clean_env
from tests.server.test_process import Served as ServedRuntime

from yoi.providers.script import Turn
from yoi.testing import FakeOpenAIServer
from yoi.tickets import TicketStore

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "DEADLINE",
    "EMBEDDED",
    "REMOTE",
    "Console",
    "Record",
    "chromium_path",
    "launch",
    "open_console",
    "watch",
]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("YOI_ARTIFACTS", REPO / ".artifacts")) / "web"
"""Where screenshots go (CI keeps this folder as the run's artifacts)."""
CHROMIUM = os.environ.get("YOI_CHROMIUM", "/usr/bin/chromium")
DEADLINE = 20.0
"""Seconds a page has to show what a test waits for (milliseconds for Playwright: * 1000)."""
EMBEDDED = "backend-internal"
REMOTE = "far"
RUNTIME_TOKEN = "far-runtime-token-never-printed-77ab"
_TOKEN_ENV = "FAR_RUNTIME_TOKEN"
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
)


def chromium_path() -> str:
    """Debian's Chromium; a missing one fails loudly: ``./scripts/test`` installs it."""
    if not Path(CHROMIUM).is_file():
        raise AssertionError(
            f"no Chromium at {CHROMIUM}: ./scripts/test installs Debian's chromium "
            "(as root, through apt); or set YOI_CHROMIUM to a Chromium binary"
        )
    return CHROMIUM


@dataclass
class Record:
    """What reached the browser, and what went wrong in the page."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def leaks(self, secrets: Iterable[str]) -> list[tuple[str, str]]:
        wanted = [secret for secret in secrets if secret]
        return [
            (where, secret) for where, text in self.texts for secret in wanted if secret in text
        ]


@dataclass
class Console:
    """A running stack and a page on its console."""

    page: Page
    browser: Browser
    backend: ServedBackend
    remote: ServedRuntime
    remote_port: int
    workspace: Path
    fake: FakeOpenAIServer
    record: Record
    launcher: Launcher
    serving: Serving
    remote_args: tuple[str, ...]
    remote_env: dict[str, str]
    backend_token: str | None = None

    @property
    def url(self) -> str:
        return self.backend.loopback

    @property
    def tickets(self) -> TicketStore:
        """The workspace's ticket store, as ``yoi ticket`` opens it."""
        return TicketStore.for_workspace(self.workspace)

    def secrets(self) -> list[str]:
        """What must never reach the browser."""
        return [
            f"127.0.0.1:{self.remote_port}",
            RUNTIME_TOKEN,
            KEY,
            self.fake.base_url,
            str(self.workspace),
            str(self.workspace.parent),
            str(Path.home()),
            *([self.backend_token] if self.backend_token else []),
        ]

    async def page_text_leaks(self) -> list[tuple[str, str]]:
        """Secrets in the page's current markup and in everything it received."""
        self.record.texts.append(("page", await self.page.content()))
        return self.record.leaks(self.secrets())

    async def kill_remote(self) -> None:
        """The remote runtime dies at once (SIGKILL): no goodbye to anyone."""
        self.remote.process.send_signal(signal.SIGKILL)
        await self.remote.process.wait()

    async def restart_remote(self) -> None:
        """Start the remote runtime again, on its port and store."""
        self.remote = await self.launcher.serve(*self.remote_args, env=self.remote_env)

    async def screenshot(self, name: str, page: Page | None = None) -> Path:
        """Save the page (or ``page``) as ``<ARTIFACTS>/<name>.png``, checked to be a PNG."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await (page or self.page).screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        return path

    async def goto(self, hash_route: str = "#/board") -> None:
        await self.page.goto(f"{self.url}/{hash_route}")

    async def new_page(self, hash_route: str, *, viewport: tuple[int, int] = (1280, 860)) -> Page:
        """Another page on ``hash_route``, watched like the first: errors fail, texts are kept."""
        width, height = viewport
        page = await self.browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(DEADLINE * 1000)
        watch(page, self.record)
        await page.goto(f"{self.url}/{hash_route}")
        return page


def watch(page: Page, record: Record) -> None:
    """Keep what reaches ``page`` in ``record``; a page error or console error is a problem."""

    async def keep_body(response: Response) -> None:
        if "/api/" not in response.url and not response.url.endswith("/"):
            return
        try:
            record.texts.append((response.url, await response.text()))
        except Exception:  # a body the browser already dropped (a navigation away)
            return

    def on_socket(socket: WebSocket) -> None:
        where = f"WS {socket.url}"
        socket.on("framereceived", lambda payload: record.texts.append((where, str(payload))))

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not _expected_console_error(message.text):
            record.problems.append(f"console: {message.text}")

    page.on("response", keep_body)
    page.on("websocket", on_socket)
    page.on("console", on_console)
    page.on("pageerror", lambda error: record.problems.append(f"page error: {error}"))


_EXPECTED = (
    # A browser logs a failed request or socket on its own; the page shows those itself.
    re.compile(r"Failed to load resource: the server responded with a status of \d+"),
    re.compile(r"WebSocket connection to '.*' failed"),
    re.compile(r"Failed to load resource: net::ERR_CONNECTION_REFUSED"),
)


def _expected_console_error(text: str) -> bool:
    return any(pattern.search(text) for pattern in _EXPECTED)


def _config(port: int) -> str:
    return (
        "[[runtimes]]\n"
        f'id = "{REMOTE}"\n'
        'display_name = "Far box"\n'
        f'url = "http://127.0.0.1:{port}"\n'
        f'token_env = "{_TOKEN_ENV}"\n'
        "timeout = 5.0\n"
    )


async def _free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


@asynccontextmanager
async def open_console(
    tmp_path: Path,
    turns: Sequence[Turn] = (),
    *,
    viewport: tuple[int, int] = (1280, 860),
    route: str = "#/board",
    backend_token: str | None = None,
    workspace_name: str = "project",
) -> AsyncIterator[Console]:
    """The whole stack and a page on ``route``; everything is stopped on the way out.

    With ``backend_token`` the backend requires it (``YOI_BACKEND_TOKEN``);
    the workspace is a folder named ``workspace_name``.
    """
    workspace = tmp_path / workspace_name
    (workspace / ".yoi").mkdir(parents=True)
    launcher, serving = Launcher(tmp_path), Serving(tmp_path)
    record = Record()
    async with FakeOpenAIServer(turns) as fake, async_playwright() as playwright:
        try:
            port = await _free_port()
            remote_env = clean_env(
                OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url, YOI_RUNTIME_TOKEN=RUNTIME_TOKEN
            )
            remote_args = (
                *("--runtime-id", REMOTE, "--display-name", "Far box"),
                *("--bind", f"127.0.0.1:{port}", "--store-root", str(tmp_path / "far-store")),
                *("--model", "openai:gpt-4o-mini"),
            )
            remote = await launcher.serve(*remote_args, env=remote_env)
            (workspace / ".yoi" / "config.toml").write_text(_config(port), encoding="utf-8")
            backend_env = clean_env(**{_TOKEN_ENV: RUNTIME_TOKEN})
            if backend_token is not None:
                backend_env["YOI_BACKEND_TOKEN"] = backend_token
            backend = await serving.serve(workspace, "--model", "scripted:offline", env=backend_env)
            browser = await launch(playwright)
            page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(DEADLINE * 1000)
            watch(page, record)
            console = Console(
                page=page,
                browser=browser,
                backend=backend,
                remote=remote,
                remote_port=port,
                workspace=workspace,
                fake=fake,
                record=record,
                launcher=launcher,
                serving=serving,
                remote_args=remote_args,
                remote_env=remote_env,
                backend_token=backend_token,
            )
            await console.goto(route)
            yield console
            assert record.problems == [], record.problems
        finally:
            await serving.aclose()
            await launcher.aclose()


async def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless."""
    return await playwright.chromium.launch(executable_path=chromium_path(), args=list(_FLAGS))
