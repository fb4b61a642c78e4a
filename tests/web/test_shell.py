"""The console's shell: served by ``yoi serve`` with strict headers, keyboard first, login."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import expect
from tests.web.rig import open_console

BACKEND_TOKEN = "backend-token-never-shown-0c1d"


async def test_the_console_is_served_with_strict_headers_and_names_the_workspace(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        await expect(page).to_have_title("project · yoi")
        await expect(page.locator("#workspace-name")).to_have_text("project")
        await expect(page.locator("#model-badge")).to_have_text("offline model")
        async with httpx.AsyncClient(base_url=console.url) as http:
            answer = await http.get("/")
            assert answer.status_code == 200
            assert "script-src 'self'" in answer.headers["content-security-policy"]
            assert answer.headers["x-content-type-options"] == "nosniff"
            script = await http.get("/assets/app.js")
            assert script.headers["content-type"].startswith("text/javascript")
            assert (await http.get("/assets/../pyproject.toml")).status_code == 404
        assert await console.page_text_leaks() == []


async def test_every_view_is_reached_from_the_keyboard(tmp_path: Path) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        await expect(page.locator("main[data-view=board]")).to_be_visible()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.locator("#main")).to_be_focused()
        views = page.get_by_role("navigation", name="Views")
        for name, view in (("Workers", "workers"), ("Runtimes", "runtimes"), ("Board", "board")):
            link = views.get_by_role("link", name=name)
            await link.focus()
            await page.keyboard.press("Enter")
            await expect(page).to_have_url(re.compile(f"#/{view}$"))
            await expect(page.locator(f"main[data-view={view}]")).to_be_visible()
            await expect(link).to_have_attribute("aria-current", "page")
        await page.keyboard.press("Alt+c")
        companion = page.get_by_role("complementary", name="Companion")
        await expect(companion).to_be_visible()
        await expect(page.locator("#companion-toggle")).to_have_attribute("aria-expanded", "true")
        await page.goto(f"{console.url}/#/no-such-view")
        await expect(page.locator("main[data-view=board]")).to_be_visible()


async def test_a_backend_with_a_token_asks_for_it_once(tmp_path: Path) -> None:
    async with open_console(tmp_path, backend_token=BACKEND_TOKEN) as console:
        page = console.page
        token = page.get_by_label("Backend token")
        await expect(token).to_be_visible()
        await token.fill("not-the-token")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator(".error-line[data-code=unauthorized]")).to_be_visible()
        await token.fill(BACKEND_TOKEN)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("main[data-view=board]")).to_be_visible()
        await expect(page).to_have_title("project · yoi")
        await expect(page.locator("#workspace-name")).to_have_text("project")
        await page.reload()
        await expect(page.locator("main[data-view=board]")).to_be_visible()
        assert await console.page_text_leaks() == []
