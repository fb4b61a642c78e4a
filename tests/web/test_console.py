"""A worker's console in Chromium: thinking, text and tool calls stream in; Cancel; paging."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Locator, Page, expect
from tests.cli.rig import cli_env, run_yoi
from tests.web.rig import REMOTE, open_console

from yoi.providers.script import Turn
from yoi.testing import Call, Stall, Text, Think, Wait

SEEDED = 34
"""Short runs queued through the API: with the 11 entries before them, 79 entries in all."""

TURNS: list[Turn] = [
    [Think("Let me", " think"), Wait(0.05), Text("Hello", " from", " far")],
    # The rig's runtimes offer no tools: a call to one is answered by the runtime as an error.
    [Text("Let me look"), Call("read_file", {"path": "README.md"}, id="call_look")],
    [Text("That tool is not here")],
    [Text("Working"), Stall()],
    [Text("Queued, then **answered**:\n\n- one\n- two")],
    *([Text(f"Noted {index}")] for index in range(1, SEEDED + 1)),
    [Text("Still here")],
]

WATCH = """(root) => {
  const seen = [];
  const look = () => {
    const live = root.querySelector('li.entry.live[data-role="assistant"]');
    if (!live) return;
    const thinking = live.querySelector("details.thinking .thinking-text");
    const text = live.querySelector(".entry-text").textContent;
    const state = [thinking ? thinking.textContent : "", text];
    const last = seen[seen.length - 1];
    if (!last || last[0] !== state[0] || last[1] !== state[1]) seen.push(state);
  };
  new MutationObserver(look).observe(root, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
  window.yoiSeen = seen;
}"""
"""Records each (thinking, text) the streaming entry showed, as a person would have seen it."""


def worker_console(page: Page, worker_id: str) -> Locator:
    return page.locator(
        f'section.worker-console[data-runtime-id="{REMOTE}"][data-worker-id="{worker_id}"]'
    )


async def say(view: Locator, text: str) -> None:
    box = view.locator("form.composer").get_by_label("Message to Scout")
    await box.fill(text)
    await box.press("Enter")


async def shown_sequences(transcript: Locator) -> list[int]:
    """The sequence of each entry shown, top to bottom."""
    values = await transcript.locator("li.entry[data-sequence]").evaluate_all(
        "(entries) => entries.map((entry) => Number(entry.dataset.sequence))"
    )
    return [int(value) for value in values]


async def recorded_sequences(http: httpx.AsyncClient, worker_id: str) -> list[int]:
    """The transcript's own entries, one per <li>: a tool result shares its call's."""
    items: list[dict[str, Any]] = []
    start: int | None = 1
    while start is not None:
        answer = await http.get(
            f"/api/runtimes/{REMOTE}/workers/{worker_id}/transcript",
            params={"start": start, "limit": 50},
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()["transcript"]
        items.extend(page["items"])
        start = page["next_start"]
    return [item["sequence"] for item in items if not (item.get("tool") or {}).get("result")]


async def expect_numbered_as_recorded(
    transcript: Locator, http: httpx.AsyncClient, worker_id: str
) -> None:
    """Every recorded entry is shown, numbered as recorded (a queued input's entry is numbered
    once its run is read back, so this waits for that)."""
    recorded = await recorded_sequences(http, worker_id)
    await expect(transcript.locator("li.entry[data-sequence]")).to_have_count(len(recorded))
    assert await shown_sequences(transcript) == recorded


async def text_metrics(text: Locator) -> tuple[str, str, str]:
    """The font size, line height and family a text is shown in."""
    found: list[str] = await text.evaluate(
        "(node) => { const s = getComputedStyle(node);"
        " return [s.fontSize, s.lineHeight, s.fontFamily]; }"
    )
    size, height, family = found
    return size, height, family


async def offset_in(scroller: Locator, entry: Locator) -> float:
    """Where `entry` sits in the scroller's view, in pixels from its top."""
    top: float = await entry.evaluate(
        "(entry) => entry.getBoundingClientRect().top"
        " - entry.closest('.transcript-scroll').getBoundingClientRect().top"
    )
    return top


async def test_a_worker_console_streams_cancels_and_pages_back_to_the_start(
    tmp_path: Path,
) -> None:
    async with (
        open_console(tmp_path, TURNS, route="#/workers") as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        made = await http.post(
            f"/api/runtimes/{REMOTE}/workers", json={"display_name": "Scout", "profile": "default"}
        )
        assert made.status_code == 201, made.text
        worker_id = made.json()["worker"]["worker_id"]
        page = console.page
        await console.goto(f"#/workers/{REMOTE}/no-such-worker")
        missing = worker_console(page, "no-such-worker")
        await expect(missing.locator('.error-line[data-code="worker_not_found"]')).to_contain_text(
            "worker_not_found"
        )
        await expect(missing.locator('[data-role="stream-state"]')).to_have_attribute(
            "data-state", "closed"
        )
        await console.goto(f"#/workers/{REMOTE}/{worker_id}")
        view = worker_console(page, worker_id)
        await expect(missing).to_have_count(0)
        await expect(view.get_by_role("heading", level=1)).to_have_text("Scout")
        status = view.locator('.badge[data-role="worker-status"]')
        await expect(status).to_have_attribute("data-status", "idle")
        await expect(view.locator('[data-role="stream-state"]')).to_have_attribute(
            "data-state", "open"
        )
        await expect(view.locator('[data-role="stream-state"]')).to_have_text("live")
        await expect(view.get_by_role("link", name="Workers")).to_have_attribute(
            "href", "#/workers"
        )
        facts = view.locator(".worker-facts")
        await expect(facts).to_contain_text(re.compile(r"Profile\s*default\s*Model"))
        await expect(facts).not_to_contain_text("named:")
        await expect(facts).not_to_contain_text("Scout@far")  # a label, no key: not offered

        # What the console shows to name the worker is what `yoi worker show` takes.
        shown_id = await facts.locator("dt:text-is('Worker id') + dd").text_content()
        shown_runtime = await facts.locator("dt:text-is('Runtime') + dd").text_content()
        assert (shown_id, shown_runtime) == (worker_id, REMOTE)
        cli = ("worker", "--backend", console.url, "show", worker_id, "--runtime", REMOTE)
        shown = await run_yoi(*cli, cwd=tmp_path, env=cli_env("no-token-needed"))
        assert shown.code == 0, shown.err
        assert re.search(r"profile\s+default", shown.out), shown.out
        transcript = view.locator("ol.transcript")
        await expect(transcript).to_have_attribute("role", "log")

        # Thinking, then text, stream into one live entry; the run ends completed.
        await view.evaluate(WATCH)
        await say(view, "Hi there")
        reply = transcript.locator('li.entry[data-role="assistant"]').first
        await expect(reply.locator(".entry-text")).to_have_text("Hello from far")
        await expect(reply.locator("details.thinking")).to_contain_text("Let me think")
        completed = transcript.locator('li.run-result[data-result="completed"]')
        await expect(completed).to_have_count(1)
        seen = await page.evaluate("() => window.yoiSeen")
        assert ["Let me think", ""] in seen, seen  # the thought showed before any text
        assert any(text.startswith("Hello") and text != "Hello from far" for _, text in seen), seen

        # A tool call shows its name, arguments and the runtime's answer.
        await say(view, "Read the README")
        call = transcript.locator('.tool-call[data-call-id="call_look"]')
        await expect(call).to_have_attribute("data-state", "error")
        await expect(call.locator(".tool-name")).to_have_text("read_file")
        await expect(call.locator(".tool-arguments")).to_contain_text('"path": "README.md"')
        await expect(call.locator(".tool-summary")).to_contain_text("unknown tool 'read_file'")
        await expect(completed).to_have_count(2)
        await expect(
            transcript.locator('li.entry[data-role="assistant"] .entry-text').last
        ).to_have_text("That tool is not here")

        # A long run: busy shows and says what sending now does; the default is to queue.
        busy = view.locator('[data-role="busy"]')
        cancel = view.get_by_role("button", name="Cancel", exact=True)
        policy = view.get_by_label("When busy")
        await expect(cancel).to_be_disabled()
        await say(view, "Work for a long time")
        await expect(busy).to_be_visible()
        await expect(busy).to_contain_text("a message sent now waits its turn")
        await expect(status).to_have_attribute("data-status", "running")
        live = transcript.locator('li.entry.live[data-role="assistant"]')
        await expect(live).to_contain_text("Working")
        streamed = await text_metrics(live.locator(".entry-text"))
        await expect(policy).to_have_value("enqueue")
        await expect(policy.locator("option:checked")).to_have_text("Queue")

        # Refused when so chosen, in the control's words; the refusal goes when the run ends.
        await policy.select_option(label="Refuse")
        await expect(busy).to_contain_text("a message sent now is refused")
        await say(view, "Are you done?")
        refused = view.locator('form.composer .error-line[data-code="worker_busy"]')
        await expect(refused).to_contain_text("When busy: Refuse")
        await expect(refused).to_contain_text("choose Queue or Interrupt")
        await expect(refused).not_to_contain_text("on_busy")
        await expect(view.get_by_label("Message to Scout")).to_have_value("Are you done?")
        await policy.select_option(label="Queue")
        await view.locator("form.composer").get_by_role("button", name="Send").click()
        queued = transcript.locator('li.entry.queued[data-role="user"]')
        await expect(queued).to_contain_text("Are you done?")
        await expect(view.locator("form.composer .error-line")).to_have_count(0)

        # Cancelled: the partial reply stays, marked; the queue goes with the run.
        await cancel.click()
        partial = transcript.locator('li.entry[data-partial="cancelled"]')
        await expect(partial.locator(".entry-text")).to_have_text("Working")
        await expect(partial.locator(".entry-note")).to_have_text("cancelled")
        await expect(queued).to_have_count(0)
        dropped = transcript.locator('li.entry[data-dropped][data-role="user"]')
        await expect(dropped).to_contain_text("Are you done?")
        await say(view, "Are you done now?")
        await expect(completed).to_have_count(3)
        await expect(busy).to_be_hidden()
        await expect(status).to_have_attribute("data-status", "idle")
        await expect(cancel).to_be_disabled()
        answered = transcript.locator('li.entry[data-role="assistant"]').last
        rendered = answered.locator(".entry-text.rendered")
        await expect(rendered.locator("strong")).to_have_text("answered")
        await expect(rendered.locator("li")).to_have_text(["one", "two"])
        assert await text_metrics(rendered.locator("p")) == streamed  # no jump in size
        await expect(partial).to_have_count(1)
        await expect_numbered_as_recorded(transcript, http, worker_id)
        await console.screenshot("worker-console")

        # Inputs queued through the API stream in, each numbered as the runtime numbers it.
        for index in range(1, SEEDED + 1):
            sent = await http.post(
                f"/api/runtimes/{REMOTE}/workers/{worker_id}/input",
                json={"content": f"Note {index}", "on_busy": "enqueue"},
            )
            assert sent.status_code == 202, sent.text
        await expect(completed).to_have_count(3 + SEEDED)
        await expect(transcript.locator("li.entry .entry-text").last).to_have_text(
            f"Noted {SEEDED}"
        )
        await expect_numbered_as_recorded(transcript, http, worker_id)
        scroller = view.locator(".transcript-scroll")
        assert await scroller.evaluate(
            "(box) => box.scrollHeight - box.scrollTop - box.clientHeight < 2"
        ), "the view did not follow the stream"

        # A fresh page shows the newest entries; older ones load on scroll and from the keyboard.
        await page.reload()
        newest = await recorded_sequences(http, worker_id)
        await expect(transcript.locator("li.entry[data-sequence]")).to_have_count(20)
        assert await shown_sequences(transcript) == newest[-20:]
        tail_top = transcript.locator(f'li.entry[data-sequence="{newest[-20]}"]')
        before: float = await scroller.evaluate(
            """(box) => {
              box.scrollTop = 0;
              const entry = box.querySelector('li.entry[data-sequence]');
              return entry.getBoundingClientRect().top - box.getBoundingClientRect().top;
            }"""
        )
        await expect(transcript.locator(f'li.entry[data-sequence="{newest[-21]}"]')).to_have_count(
            1
        )
        assert abs(await offset_in(scroller, tail_top) - before) < 2  # nothing jumped
        await expect(transcript.locator('li.entry[data-sequence="1"]')).to_have_count(0)
        older = view.get_by_role("button", name="Load older")
        await older.focus()
        await page.keyboard.press("Enter")
        first = transcript.locator('li.entry[data-sequence="1"]')
        await expect(first.locator(".entry-text")).to_have_text("Hi there")
        await expect(older).to_be_hidden()
        await expect(view.get_by_text("Start of the conversation")).to_be_visible()
        assert await shown_sequences(transcript) == newest

        # A run while the reader is up at the top leaves the view where it is.
        await first.scroll_into_view_if_needed()
        at = await offset_in(scroller, first)
        sent = await http.post(
            f"/api/runtimes/{REMOTE}/workers/{worker_id}/input", json={"content": "Still there?"}
        )
        assert sent.status_code == 202, sent.text
        await expect(completed).to_have_count(1)  # this page saw one run end
        await expect(
            transcript.locator('li.entry[data-role="assistant"] .entry-text').last
        ).to_have_text("Still here")
        assert abs(await offset_in(scroller, first) - at) < 2

        # Stop asks first, takes a reason, and the console then takes no more input.
        await view.get_by_role("button", name="Stop", exact=True).click()
        dialog = page.get_by_role("dialog", name="Stop Scout?")
        await dialog.get_by_label("Reason (optional)").fill("done for today")
        await dialog.get_by_role("button", name="Stop worker").click()
        await expect(dialog).to_have_count(0)
        await expect(status).to_have_attribute("data-status", "stopped")
        await expect(transcript.locator('li.notice[data-kind="stopped"]')).to_have_text(
            "Worker stopped: done for today"
        )
        await expect(view.get_by_label("Message to Scout")).to_be_disabled()
        await expect(view.get_by_role("button", name="Stop", exact=True)).to_be_disabled()

        await page.set_viewport_size({"width": 375, "height": 740})
        await expect(view.get_by_role("heading", level=1)).to_be_visible()
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= 375
        await console.screenshot("worker-console-phone")
        assert await console.page_text_leaks() == []


async def test_a_cancelled_reply_is_kept_marked_after_a_reload_and_in_the_cli(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [[Text("Half", " a thought"), Stall()]]
    async with (
        open_console(tmp_path, turns, route="#/workers") as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        made = await http.post(
            f"/api/runtimes/{REMOTE}/workers", json={"display_name": "Scout", "profile": "default"}
        )
        assert made.status_code == 201, made.text
        worker_id = made.json()["worker"]["worker_id"]
        await console.goto(f"#/workers/{REMOTE}/{worker_id}")
        view = worker_console(console.page, worker_id)
        transcript = view.locator("ol.transcript")
        await say(view, "Think aloud")
        live = transcript.locator('li.entry.live[data-role="assistant"]')
        await expect(live.locator(".entry-text")).to_have_text("Half a thought")
        await view.get_by_role("button", name="Cancel", exact=True).click()
        await expect(transcript.locator('li.run-result[data-result="cancelled"]')).to_have_count(1)

        # Recorded as far as it got: a fresh page reads it back from the runtime, marked.
        await console.page.reload()
        kept = transcript.locator('li.entry[data-role="assistant"]')
        await expect(kept).to_have_count(1)
        await expect(kept).to_have_attribute("data-sequence", "2")
        await expect(kept).to_have_attribute("data-partial", "cancelled")
        await expect(kept.locator(".entry-text")).to_have_text("Half a thought")
        await expect(kept.locator(".entry-note")).to_have_text("cancelled")
        await expect_numbered_as_recorded(transcript, http, worker_id)

        cli = ("worker", "--backend", console.url, "transcript", worker_id, "--runtime", REMOTE)
        shown = await run_yoi(*cli, cwd=tmp_path, env=cli_env("no-token-needed"))
        assert shown.code == 0, shown.err
        assert shown.out.splitlines() == [
            "#1 user: Think aloud",
            "#2 assistant (cancelled): Half a thought",
        ]
        assert await console.page_text_leaks() == []
