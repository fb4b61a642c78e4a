"""The Companion panel in Chromium: opened from anywhere, it streams the offline model's reply."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.async_api import Locator, Page, WebSocketRoute, expect
from tests.web.rig import ARTIFACTS, EMBEDDED, open_console

WATCH = """(root) => {
  const seen = { live: [], busy: false };
  const look = () => {
    const live = root.querySelector('li.entry.live[data-role="assistant"] .entry-text');
    const text = live ? live.textContent : null;
    if (text && seen.live[seen.live.length - 1] !== text) seen.live.push(text);
    const busy = root.querySelector('[data-role="busy"]');
    if (busy && !busy.hidden) seen.busy = true;
  };
  new MutationObserver(look).observe(root, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  window.yoiSeen = seen;
}"""
"""Records what the panel showed between two looks: each text of the streaming reply, and busy."""


def panel(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Companion")


async def entry_texts(transcript: Locator) -> list[tuple[str, str, str]]:
    """(role, sequence, text) of each entry, in order."""
    entries = transcript.locator("li.entry")
    found = []
    for index in range(await entries.count()):
        entry = entries.nth(index)
        role = await entry.get_attribute("data-role")
        sequence = await entry.get_attribute("data-sequence")
        text = await entry.locator(".entry-text").text_content()
        found.append((str(role), str(sequence), str(text)))
    return found


async def test_the_companion_streams_its_reply_and_keeps_the_conversation(
    tmp_path: Path,
) -> None:
    async with open_console(tmp_path) as console:
        page = console.page
        toggle = page.locator("#companion-toggle")
        companion = panel(page)
        await expect(companion).to_be_hidden()
        await toggle.click()
        await expect(companion).to_be_visible()
        await expect(toggle).to_have_attribute("aria-expanded", "true")
        box = companion.get_by_label("Message to the Companion")
        await expect(box).to_be_focused()
        banner = companion.locator('[data-role="offline-banner"]')
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("The offline scripted model is answering")
        await expect(companion.locator('[data-role="stream-state"]')).to_have_attribute(
            "data-state", "open"
        )
        await expect(companion.get_by_label("When busy")).to_have_value("enqueue")

        await page.keyboard.press("Escape")
        await expect(companion).to_be_hidden()
        await expect(toggle).to_be_focused()
        await page.keyboard.press("Alt+c")
        await expect(companion).to_be_visible()
        await expect(box).to_be_focused()

        await companion.evaluate(WATCH)
        message = "Which tickets are ready?"
        await box.fill(message)
        await box.press("Enter")
        transcript = companion.locator("ol.transcript")
        reply = transcript.locator('li.entry[data-role="assistant"]')
        final = re.compile(re.escape(f"You said: {message}") + "$")
        await expect(reply.locator(".entry-text")).to_have_text(final)
        await expect(transcript.locator('li.run-result[data-result="completed"]')).to_have_count(1)
        await expect(box).to_have_value("")
        busy = companion.locator('[data-role="busy"]')
        await expect(busy).to_be_hidden()
        await expect(reply).not_to_have_class(re.compile(r"\blive\b"))

        seen = await page.evaluate("() => window.yoiSeen")
        async with httpx.AsyncClient(base_url=console.url) as http:
            path = f"/api/runtimes/{EMBEDDED}/workers/companion/transcript"
            recorded = (await http.get(path, params={"start": 2})).json()["transcript"]["items"]
        answer = recorded[0]["content"]
        partial = [text for text in seen["live"] if text != answer]
        assert len(partial) >= 2, seen["live"]  # the reply grew before it was complete
        assert all(answer.startswith(text) for text in seen["live"]), seen["live"]
        assert seen["busy"], "busy never showed while the Companion answered"
        # Once done, the reply shows as the backend renders its Markdown: a paragraph each.
        paragraphs = reply.locator(".entry-text.rendered > p")
        await expect(paragraphs).to_have_text(
            [" ".join(part.split()) for part in answer.split("\n\n")]
        )
        shown = str(await reply.locator(".entry-text").text_content())
        conversation = [("user", "1", message), ("assistant", "2", shown)]
        assert await entry_texts(transcript) == conversation
        await console.screenshot("companion")

        await page.reload()
        await expect(companion).to_be_hidden()
        await page.keyboard.press("Alt+c")
        await expect(companion).to_be_visible()
        await expect(reply.locator(".entry-text")).to_have_text(final)
        assert await entry_texts(transcript) == conversation

        await page.set_viewport_size({"width": 375, "height": 740})
        box_on_phone = await companion.bounding_box()
        assert box_on_phone is not None
        assert (box_on_phone["x"], box_on_phone["width"]) == (0, 375), box_on_phone
        await expect(companion.get_by_role("button", name="Close the Companion")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "companion-phone.png"))
        await companion.get_by_role("button", name="Close the Companion").click()
        await expect(companion).to_be_hidden()
        assert await console.page_text_leaks() == []


class Hold:
    """Holds back the frames a server sends on a routed WebSocket, then lets them through."""

    def __init__(self) -> None:
        self.route: WebSocketRoute | None = None
        self.holding = False
        self.held: list[str | bytes] = []

    async def __call__(self, route: WebSocketRoute) -> None:
        self.route = route
        route.connect_to_server().on_message(self.take)

    def take(self, frame: str | bytes) -> None:
        if self.holding:
            self.held.append(frame)
        elif self.route is not None:
            self.route.send(frame)

    def release(self) -> int:
        assert self.route is not None
        self.holding = False
        for frame in self.held:
            self.route.send(frame)
        return len(self.held)


async def test_a_reply_that_does_not_come_in_time_says_so_and_clears_when_it_comes(
    tmp_path: Path,
) -> None:
    """The Companion's stream stalls: its frames are held back on their way to the page."""
    hold = Hold()
    async with open_console(tmp_path) as console:
        page = console.page
        await page.clock.install()
        await page.route_web_socket(re.compile(r"/workers/companion/events/ws"), hold)
        await page.reload()
        await page.keyboard.press("Alt+c")
        companion = panel(page)
        await expect(companion.locator('[data-role="stream-state"]')).to_have_attribute(
            "data-state", "open"
        )
        hold.holding = True
        box = companion.get_by_label("Message to the Companion")
        await box.fill("Are you there?")
        await box.press("Enter")
        await expect(box).to_have_value("")  # accepted: only the reply is missing
        timeout = companion.locator('.error-line[data-code="reply_timeout"]')
        await page.clock.fast_forward("00:59")
        await expect(timeout).to_have_count(0)
        await page.clock.fast_forward("00:02")
        await expect(timeout).to_be_visible()
        await expect(timeout).to_contain_text("reply_timeout")
        await console.screenshot("companion-reply-timeout")

        assert hold.release() > 0
        reply = companion.locator('ol.transcript li.entry[data-role="assistant"] .entry-text')
        await expect(reply).to_have_text(re.compile(r"You said: Are you there\?$"))
        await expect(timeout).to_have_count(0)
