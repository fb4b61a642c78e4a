"""A console over an in-process backend whose embedded runtime has tools the test gives it.

:func:`open_tool_console` serves, on 127.0.0.1 port 0, a backend whose
embedded runtime plays the test's scripted turns and offers its fake tools;
a bundle profile ``toolsmith`` grants them. Chromium is driven as in
:mod:`tests.web.rig`, with what reaches the page recorded and any page or
console error failing the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright
from tests.web.rig import ARTIFACTS, DEADLINE, EMBEDDED, Record, launch, watch

from yoi.backend import Backend, ModelLabel, create_backend_app
from yoi.engine import Tool, ToolResult
from yoi.providers.script import Turn
from yoi.runtime import BUILTIN_PROFILES, ConfigBundle, Runtime, RuntimeLimits
from yoi.server.listen import listening
from yoi.testing import ScriptedModel
from yoi.web import ASSETS

__all__ = ["PROFILE", "EchoTool", "FailTool", "ToolConsole", "open_tool_console"]

PROFILE = "toolsmith"


class EchoTool:
    """Answers with its ``text`` argument, ``times`` over (one by default)."""

    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "times": {"type": "integer"}},
    }

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        text = str(arguments.get("text", ""))
        times = arguments.get("times", 1)
        output = text * (times if isinstance(times, int) else 1)
        return ToolResult(f"echoed {len(output)} characters", output)


class FailTool:
    """Always fails, saying why it was asked to."""

    name = "fail"
    description = "Fails."
    parameters: Mapping[str, object] = {"type": "object", "properties": {}}

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult(f"failed as asked: {arguments.get('why', '')}", is_error=True)


def _bundle(profile: Mapping[str, object]) -> ConfigBundle:
    profiles: dict[str, object] = {
        p.name: {"prompt": f"You are {p.name}."} for p in BUILTIN_PROFILES
    }
    profiles[PROFILE] = {"prompt": "You use tools.", **profile}
    return ConfigBundle.from_mapping({"revision": "tests", "profiles": profiles})


@dataclass
class ToolConsole:
    page: Page
    browser: Browser
    url: str
    http: httpx.AsyncClient
    record: Record

    async def create_worker(self, name: str, tools: Sequence[str]) -> str:
        """A worker of the ``toolsmith`` profile asking for ``tools``; its id."""
        made = await self.http.post(
            f"/api/runtimes/{EMBEDDED}/workers",
            json={
                "display_name": name,
                "profile": f"named:{PROFILE}",
                "requested_capabilities": [{"name": tool} for tool in tools],
            },
        )
        assert made.status_code == 201, made.text
        worker_id: str = made.json()["worker"]["worker_id"]
        return worker_id

    async def goto(self, hash_route: str) -> None:
        await self.page.goto(f"{self.url}/{hash_route}")

    async def new_page(self, hash_route: str) -> Page:
        """Another page on ``hash_route``, watched like the first."""
        page = await self.browser.new_page(viewport=self.page.viewport_size)
        page.set_default_timeout(DEADLINE * 1000)
        watch(page, self.record)
        await page.goto(f"{self.url}/{hash_route}")
        return page

    async def screenshot(self, name: str, page: Page | None = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await (page or self.page).screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
        return path


@asynccontextmanager
async def open_tool_console(
    turns: Sequence[Turn],
    tools: Sequence[Tool],
    *,
    profile: Mapping[str, Any] | None = None,
    limits: RuntimeLimits | None = None,
    viewport: tuple[int, int] = (1280, 900),
) -> AsyncIterator[ToolConsole]:
    """The stack and a page on the board; ``profile`` adds settings to ``toolsmith``'s
    (which grants every tool in ``tools``). The script must be played out by the end."""
    model = ScriptedModel(turns)
    runtime = Runtime(runtime_id=EMBEDDED, model=model, tools=tools, limits=limits)
    granted = {"tools": [tool.name for tool in tools], **(profile or {})}
    label = ModelLabel(model.name, offline=False)
    record = Record()
    async with (
        Backend(runtime=runtime, bundle=_bundle(granted), model=label) as backend,
        listening(create_backend_app(backend, console=ASSETS), "127.0.0.1", 0) as server,
        httpx.AsyncClient(base_url=server.url) as http,
        async_playwright() as playwright,
    ):
        browser = await launch(playwright)
        try:
            page = await browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(DEADLINE * 1000)
            watch(page, record)
            console = ToolConsole(page, browser, server.url, http, record)
            await console.goto("#/board")
            yield console
        finally:
            await browser.close()
    assert record.problems == [], record.problems
    model.assert_consumed()
