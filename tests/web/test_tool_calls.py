"""Tool calls in a worker's console, in Chromium: name, arguments, state and result, live and
read back after a reload, drawn the same; what a model or a tool wrote is shown as text."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Locator, Page, expect
from tests.web.rig import EMBEDDED
from tests.web.tool_rig import EchoTool, FailTool, open_tool_console

from yoi.providers.script import Turn
from yoi.testing import Call, Text

HOSTILE = "<img src=x onerror=window.pwned=1><b>bold?</b>"
LONG_TEXT = "0123456789" * 300
"""Arguments too long to show at once; echoed twelve times, an output the runtime cuts."""
RAW_ARGUMENTS = '{"text": "unclosed'

TURNS: list[Turn] = [
    [
        Text("Let me try my tools"),
        Call("echo", {"text": HOSTILE}, id="call_echo"),
        Call("fail", {"why": "to show an error"}, id="call_fail"),
    ],
    [Call("echo", {"text": LONG_TEXT, "times": 12}, id="call_long")],
    [Call("echo", RAW_ARGUMENTS, id="call_raw")],
    [Text("All done")],
]

DRAWN = """(root) => [...root.querySelectorAll(".tool-call")].map((call) => {
  const text = (selector) => call.querySelector(selector)?.textContent ?? null;
  const summary = call.querySelector(".tool-summary");
  return {
    id: call.dataset.callId,
    name: text(".tool-name"),
    state: call.dataset.state,
    state_text: text(".tool-state"),
    arguments: text(".tool-arguments .tool-text"),
    expand: text(".tool-arguments .tool-expand"),
    summary: summary.hidden ? null : summary.textContent,
    output_label: text(".tool-output summary"),
    output: text(".tool-output .tool-text"),
  };
})"""
"""What each tool call shows, as a person reads it."""


def worker_view(page: Page, worker_id: str) -> Locator:
    return page.locator(
        f'section.worker-console[data-runtime-id="{EMBEDDED}"][data-worker-id="{worker_id}"]'
    )


def pretty(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, indent=2, ensure_ascii=False)


async def drawn(transcript: Locator) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = await transcript.evaluate(DRAWN)
    return calls


async def test_tool_calls_show_arguments_state_and_results_live_and_after_a_reload() -> None:
    async with open_tool_console(TURNS, [EchoTool(), FailTool()], viewport=(1280, 1500)) as console:
        worker_id = await console.create_worker("Toolsmith", ["echo", "fail"])
        await console.goto(f"#/workers/{EMBEDDED}/{worker_id}")
        page = console.page
        view = worker_view(page, worker_id)
        transcript = view.locator("ol.transcript")
        box = view.get_by_label("Message to Toolsmith")
        await box.fill("Use your tools")
        await box.press("Enter")
        await expect(transcript.locator('li.run-result[data-result="completed"]')).to_have_count(1)

        echo = transcript.locator('.tool-call[data-call-id="call_echo"]')
        await expect(echo.locator(".tool-name")).to_have_text("echo")
        await expect(echo).to_have_attribute("data-state", "done")
        await expect(echo.locator(".tool-state")).to_have_text("done")
        await expect(echo.locator(".tool-arguments .tool-text")).to_have_text(
            pretty({"text": HOSTILE})
        )
        await expect(echo.locator(".tool-summary")).to_have_text(
            f"echoed {len(HOSTILE)} characters"
        )
        await expect(echo.locator(".tool-output .tool-text")).to_have_text(HOSTILE)
        await expect(echo.locator(".tool-truncated")).to_be_hidden()

        failed = transcript.locator('.tool-call[data-call-id="call_fail"]')
        await expect(failed).to_have_attribute("data-state", "error")
        await expect(failed.locator(".tool-state")).to_have_text("failed")
        await expect(failed.locator(".tool-summary")).to_have_text(
            "failed as asked: to show an error"
        )

        # Long arguments show their start; the rest is a click away. The runtime cut the output.
        long = transcript.locator('.tool-call[data-call-id="call_long"]')
        await expect(long).to_have_attribute("data-state", "done")
        await expect(long.locator(".tool-truncated")).to_be_visible()
        await expect(long.locator(".tool-truncated")).to_have_text("output truncated")
        arguments = long.locator(".tool-arguments .tool-text")
        whole = pretty({"text": LONG_TEXT, "times": 12})
        shown = await arguments.text_content()
        assert shown is not None, "no arguments shown"
        assert shown.endswith(" …"), shown
        assert len(shown) < 900, shown
        assert whole.startswith(shown.removesuffix(" …")), shown
        expand = long.get_by_role("button", name="Show all arguments")
        await expect(expand).to_have_attribute("aria-expanded", "false")
        output = long.locator(".tool-output")
        await expect(output.locator("summary")).to_contain_text("32,0")
        await expect(output.locator(".tool-text")).to_contain_text(LONG_TEXT[:100])

        # Arguments that are not JSON are shown as the model wrote them.
        raw = transcript.locator('.tool-call[data-call-id="call_raw"]')
        await expect(raw).to_have_attribute("data-state", "error")
        await expect(raw.locator(".tool-arguments .tool-text")).to_have_text(RAW_ARGUMENTS)
        await expect(raw.locator(".tool-summary")).to_contain_text("arguments are not valid JSON")

        replies = transcript.locator('li.entry[data-role="assistant"] .entry-text')
        await expect(replies.last).to_have_text("All done")
        live = await drawn(transcript)
        await console.screenshot("tool-calls")
        await expand.click()
        await expect(arguments).to_have_text(whole)
        await expect(long.get_by_role("button", name="Show less arguments")).to_have_attribute(
            "aria-expanded", "true"
        )

        # Read back after a reload, the calls look as they did; the snapshot cut the long
        # output, which reads whole on request.
        await page.reload()
        await expect(transcript.locator(".tool-call")).to_have_count(4)
        read_whole = long.get_by_role("button", name="Read the whole output")
        await read_whole.click()
        await expect(read_whole).to_have_count(0)
        assert await drawn(transcript) == live
        await expect(echo.locator(".tool-output .tool-text")).to_have_text(HOSTILE)

        # Nothing the model or the tool wrote became markup.
        assert await transcript.locator("img, b").count() == 0
        assert await page.evaluate("() => window.pwned") is None
        assert [call["id"] for call in live] == ["call_echo", "call_fail", "call_long", "call_raw"]
