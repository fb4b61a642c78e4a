"""Workers in Chromium: create one, talk to it, cancel a run; lose its runtime, get it back."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Locator, Page, expect
from tests.web.rig import REMOTE, open_console

from yoi.providers.script import Turn
from yoi.runtime import BUILTIN_PROFILES
from yoi.testing import Stall, Text, Wait

RECOVERY_MS = 30_000
"""The backend probes a remote runtime every few seconds, with a backoff while it is down."""

GREETING: Turn = [Text("Hello"), Wait(0.5), Text(" from"), Wait(0.5), Text(" far")]
LONG_RUN: Turn = [Text("Working"), Stall()]
BEFORE: Turn = [Text("Before", " the", " outage")]
AFTER: Turn = [Text("After"), Wait(0.5), Text(" the"), Wait(0.5), Text(" restart")]


def worker_console(page: Page, worker_id: str) -> Locator:
    return page.locator(
        f'section.worker-console[data-runtime-id="{REMOTE}"][data-worker-id="{worker_id}"]'
    )


async def say(view: Locator, name: str, text: str) -> None:
    """Type into the composer and press Enter, as a person does."""
    box = view.locator("form.composer").get_by_label(f"Message to {name}")
    await box.fill(text)
    await box.press("Enter")


async def sequences(transcript: Locator) -> list[str]:
    entries = transcript.locator("li.entry[data-sequence]")
    return [
        str(await entries.nth(index).get_attribute("data-sequence"))
        for index in range(await entries.count())
    ]


async def test_create_a_worker_watch_it_stream_and_cancel_a_long_run(tmp_path: Path) -> None:
    async with open_console(tmp_path, [GREETING, LONG_RUN], route="#/workers") as console:
        page = console.page
        await page.get_by_role("button", name="New worker", exact=True).click()
        dialog = page.get_by_role("dialog", name="New worker")
        await dialog.get_by_label("Runtime", exact=True).select_option(label="Far box")
        profile = dialog.get_by_label("Profile", exact=True)
        await expect(profile).to_have_value("default")
        await dialog.get_by_label("Display name", exact=True).fill("Scout")

        # Each profile says what it is for; the rig's runtimes offer no tools, so none are offered.
        described = {p.name: p.description for p in BUILTIN_PROFILES}
        field = profile.locator("xpath=..")
        await expect(field.locator(".hint")).to_have_text(str(described["default"]))
        await profile.select_option("reviewer")
        await expect(field.locator(".hint")).to_have_text(str(described["reviewer"]))
        await profile.select_option("default")
        capabilities = dialog.get_by_role("group", name="Capabilities")
        await expect(capabilities).to_contain_text("This runtime offers no tools.")
        await expect(capabilities.get_by_role("checkbox")).to_have_count(0)
        await console.screenshot("create-worker-dialog")
        await dialog.get_by_role("button", name="Create").click()

        await expect(page).to_have_url(re.compile(rf"#/workers/{REMOTE}/[^/]+$"))
        await expect(dialog).to_have_count(0)
        worker_id = page.url.rsplit("/", 1)[1]
        view = worker_console(page, worker_id)
        await expect(view.get_by_role("heading", level=1)).to_have_text("Scout")
        transcript = view.locator("ol.transcript")
        live = transcript.locator('li.entry.live[data-role="assistant"]')

        await say(view, "Scout", "Say hello")
        await expect(transcript.locator('li.entry[data-role="user"]')).to_contain_text("Say hello")
        await expect(live).to_contain_text("Hello")  # seen while the reply still streams
        replies = transcript.locator('li.entry[data-role="assistant"]:not(.live)')
        await expect(replies).to_have_count(1)
        await expect(replies).to_contain_text("Hello from far")
        await expect(live).to_have_count(0)
        await expect(transcript.locator('li.run-result[data-result="completed"]')).to_have_count(1)

        status = view.locator('.badge[data-role="worker-status"]')
        busy = view.locator('[data-role="busy"]')
        await say(view, "Scout", "Work on it for a long time")
        await expect(busy).to_be_visible()
        await expect(status).to_have_attribute("data-status", "running")
        await expect(live).to_contain_text("Working")
        await view.get_by_role("button", name="Cancel", exact=True).click()
        await expect(transcript.locator('li.run-result[data-result="cancelled"]')).to_have_count(1)
        await expect(busy).to_be_hidden()
        await expect(status).to_have_attribute("data-status", "idle")

        await page.locator("nav.views").get_by_role("link", name="Workers").click()
        row = page.locator(
            f'article.runtime[data-runtime-id="{REMOTE}"] tr.worker[data-worker-id="{worker_id}"]'
        )
        link = row.get_by_role("link", name="Scout")
        await expect(link).to_have_attribute("href", f"#/workers/{REMOTE}/{worker_id}")
        await expect(row.locator('[data-role="worker-status"]')).to_have_attribute(
            "data-status", "idle"
        )
        await expect(row.locator('[data-role="worker-status"]')).to_have_text("idle")
        await expect(row.locator("td", has_text=re.compile(r"^default$"))).to_have_count(1)
        await console.screenshot("workers")
        assert await console.page_text_leaks() == []


async def test_a_dead_runtime_turns_unavailable_and_its_worker_console_resumes(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path, [BEFORE, AFTER], route="#/workers") as console:
        async with httpx.AsyncClient(base_url=console.url) as http:
            made = await http.post(
                f"/api/runtimes/{REMOTE}/workers",
                json={"display_name": "Survivor", "initial_input": "Are you there?"},
            )
            assert made.status_code == 201, made.text
        worker_id = made.json()["worker"]["worker_id"]
        page = console.page
        await console.goto(f"#/workers/{REMOTE}/{worker_id}")
        view = worker_console(page, worker_id)
        transcript = view.locator("ol.transcript")
        stream = view.locator('[data-role="stream-state"]')
        await expect(transcript.locator('li.entry[data-role="assistant"]')).to_contain_text(
            "Before the outage"
        )
        await expect(stream).to_have_attribute("data-state", "open")

        workers = await console.new_page("#/workers")
        far = workers.locator(f'article.runtime[data-runtime-id="{REMOTE}"]')
        badge = far.locator('.badge[data-role="runtime-status"]')
        await expect(badge).to_have_attribute("data-status", "available")
        await expect(far.locator(f'tr.worker[data-worker-id="{worker_id}"]')).to_be_visible()

        await console.kill_remote()
        await expect(badge).to_have_attribute("data-status", "unavailable", timeout=RECOVERY_MS)
        await expect(badge).to_have_text("unavailable")
        problem = far.locator('[data-role="diagnostic"]')
        await expect(problem).to_have_attribute("data-code", "runtime_unavailable")
        await expect(problem).to_contain_text("runtime_unavailable")
        await console.screenshot("runtime-unavailable", workers)

        await console.restart_remote()
        await expect(badge).to_have_attribute("data-status", "available", timeout=RECOVERY_MS)
        await expect(problem).to_have_count(0)
        await expect(far.locator(f'tr.worker[data-worker-id="{worker_id}"]')).to_be_visible()

        await expect(stream).to_have_attribute("data-state", "open", timeout=RECOVERY_MS)
        before = await sequences(transcript)
        await say(view, "Survivor", "Are you back?")
        live = transcript.locator('li.entry.live[data-role="assistant"]')
        await expect(live).to_contain_text("After")
        replies = transcript.locator('li.entry[data-role="assistant"]:not(.live)')
        await expect(replies).to_have_count(2)
        await expect(replies.last).to_contain_text("After the restart")
        after = await sequences(transcript)
        assert len(after) == len(set(after)) == len(before) + 2, (before, after)
        await expect(transcript.get_by_text("Before the outage")).to_have_count(1)
        await expect(transcript.get_by_text("Are you back?")).to_have_count(1)
        await workers.close()
        assert await console.page_text_leaks() == []
