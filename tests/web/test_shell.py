"""The console's shell: served by ``yoi serve``, strict headers, its own assets only."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import expect
from tests.web.rig import open_console


async def test_the_console_is_served_with_strict_headers_and_names_the_workspace(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        await expect(page).to_have_title("project · yoi")
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
