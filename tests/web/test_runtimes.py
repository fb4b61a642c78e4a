"""The Runtimes view, and the Workers view at a phone's width, in a real Chromium."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.async_api import Page, expect
from tests.web.rig import EMBEDDED, REMOTE, open_console


async def refreshes(page: Page, count: int) -> None:
    """Wait until the view has asked for the runtimes ``count`` more times (its refresh loop)."""
    for _ in range(count):
        async with page.expect_response(lambda response: response.url.endswith("/api/runtimes")):
            pass


async def test_runtimes_show_kind_status_capabilities_and_diagnostics_and_fit_a_phone(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path, route="#/runtimes") as console:
        page = console.page
        await expect(page.get_by_role("heading", name="Runtimes", level=1)).to_be_visible()
        embedded = page.locator(f'article.runtime[data-runtime-id="{EMBEDDED}"]')
        far = page.locator(f'article.runtime[data-runtime-id="{REMOTE}"]')

        await expect(embedded.locator('[data-role="kind"]')).to_have_text("embedded")
        await expect(embedded.locator('[data-role="runtime-status"]')).to_have_attribute(
            "data-status", "available"
        )
        await expect(embedded.locator('[data-capability="observe.resume"]')).to_be_visible()
        offline = embedded.locator('[data-role="diagnostic"][data-code="offline_model"]')
        await expect(offline).to_contain_text("offline_model")
        await expect(offline).to_contain_text("no model is configured")

        await expect(far.get_by_role("heading", name="Far box")).to_be_visible()
        await expect(far.locator('[data-role="kind"]')).to_have_text("remote")
        await expect(far.locator('[data-role="runtime-id"]')).to_have_text(REMOTE)
        await expect(far.locator('[data-role="runtime-status"]')).to_have_attribute(
            "data-status", "available"
        )
        await expect(far.locator('[data-role="runtime-status"]')).to_have_text("available")
        await expect(far.locator('[data-role="model"]')).to_have_text("openai:gpt-4o-mini")
        await expect(far.locator('[data-capability="workers"]')).to_be_visible()
        await expect(far.get_by_text("no diagnostics")).to_be_visible()
        await expect(far.locator('[data-role="load"]')).to_have_text("0 (0 busy)")

        # A worker made elsewhere (here, straight through the API) shows up without a reload.
        async with httpx.AsyncClient(base_url=console.url) as http:
            made = await http.post(
                f"/api/runtimes/{REMOTE}/workers", json={"display_name": "Night shift"}
            )
            assert made.status_code == 201, made.text
        await expect(far.locator('[data-role="load"]')).to_have_text("1 (0 busy)")
        await console.screenshot("runtimes")

        await page.set_viewport_size({"width": 390, "height": 844})
        await page.get_by_role("link", name="Workers", exact=True).click()
        row = page.locator(f'article.runtime[data-runtime-id="{REMOTE}"] tr.worker')
        await expect(row.get_by_role("link", name="Night shift")).to_be_visible()
        await expect(row.locator('[data-role="worker-status"]')).to_have_attribute(
            "data-status", "idle"
        )
        companion = page.get_by_role("link", name="Companion", exact=True)
        await expect(companion).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the Workers view is {width}px wide on a 390px phone"

        # The refresh keeps rows in place: a focused link stays focused across refreshes.
        await companion.focus()
        await refreshes(page, 2)
        await expect(companion).to_be_focused()
        await console.screenshot("workers-phone")
        assert await console.page_text_leaks() == []
