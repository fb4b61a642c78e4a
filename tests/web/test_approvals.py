"""Pending approvals in a worker's console, in Chromium: shown at their tool call with the rule,
the arguments, the expiry and Allow / Deny; every page watching sees how each one ended."""

from __future__ import annotations

import json
from datetime import datetime

from playwright.async_api import Locator, Page, expect
from tests.web.rig import EMBEDDED
from tests.web.tool_rig import EchoTool, ToolConsole, open_tool_console

from yoi.providers.script import Turn
from yoi.runtime import RuntimeLimits
from yoi.testing import Call, Text

RULE = 'echo: "*deploy*" -> ask'
GUARDED = {"permissions": [RULE]}
ALLOWED = {"text": "deploy to production"}
DENIED = {"text": "deploy <img src=x onerror=window.pwned=1> again"}

SAW_BUTTONS = """(root) => {
  window.yoiSawButtons = null;
  new MutationObserver(() => {
    const buttons = root.querySelectorAll('.tool-approval[data-state="pending"] button');
    if (buttons.length && !window.yoiSawButtons) {
      window.yoiSawButtons = [...buttons].map((button) => button.textContent);
    }
  }).observe(root, { subtree: true, childList: true, attributes: true });
}"""
"""Records the buttons of the first pending approval the view draws, however briefly."""


def worker_view(page: Page, worker_id: str) -> Locator:
    return page.locator(
        f'section.worker-console[data-runtime-id="{EMBEDDED}"][data-worker-id="{worker_id}"]'
    )


def call_of(page: Page, worker_id: str, call_id: str) -> Locator:
    return worker_view(page, worker_id).locator(f'.tool-call[data-call-id="{call_id}"]')


async def ask(console: ToolConsole, worker_id: str, text: str) -> None:
    box = worker_view(console.page, worker_id).get_by_label("Message to Guarded")
    await box.fill(text)
    await box.press("Enter")


async def expect_pending(call: Locator, arguments: dict[str, str]) -> Locator:
    """The call's approval, waiting: its rule, the call's arguments, an expiry, two buttons."""
    approval = call.locator(".tool-approval")
    await expect(approval).to_have_attribute("data-state", "pending")
    await expect(approval.locator(".approval-rule")).to_have_text(RULE)
    await expect(call.locator(".tool-arguments .tool-text")).to_have_text(
        json.dumps(arguments, indent=2)
    )
    expiry = await approval.locator(".approval-expiry time").get_attribute("datetime")
    assert expiry is not None
    assert datetime.fromisoformat(expiry).timestamp() > datetime.now().timestamp(), expiry
    await expect(approval.get_by_role("button", name="Allow")).to_be_enabled()
    await expect(approval.get_by_role("button", name="Deny")).to_be_enabled()
    await expect(call).to_have_attribute("data-state", "running")
    return approval


async def test_a_person_allows_one_call_and_denies_another_and_every_page_sees_it() -> None:
    turns: list[Turn] = [
        [Text("Asking first"), Call("echo", ALLOWED, id="call_allowed")],
        [Call("echo", DENIED, id="call_denied")],
        [Text("One went, one did not")],
    ]
    async with open_tool_console(
        turns, [EchoTool()], profile=GUARDED, viewport=(1280, 1100)
    ) as console:
        worker_id = await console.create_worker("Guarded", ["echo"])
        await console.goto(f"#/workers/{EMBEDDED}/{worker_id}")
        other = await console.new_page(f"#/workers/{EMBEDDED}/{worker_id}")
        await ask(console, worker_id, "Deploy it")

        allowed = call_of(console.page, worker_id, "call_allowed")
        await expect_pending(allowed, ALLOWED)
        await console.screenshot("approval-pending")

        # A page opened while it waits finds it in the worker's snapshot.
        await console.page.reload()
        approval = await expect_pending(allowed, ALLOWED)
        await approval.get_by_role("button", name="Allow").click()
        for page in (console.page, other):
            answered = call_of(page, worker_id, "call_allowed")
            await expect(answered.locator(".tool-approval")).to_have_attribute(
                "data-state", "allowed"
            )
            await expect(answered.locator(".approval-outcome")).to_have_text("Allowed by a person")
            await expect(answered.get_by_role("button")).to_have_count(0)
            await expect(answered).to_have_attribute("data-state", "done")

        # Denied from the other page: the first sees it, and the call fails for the model.
        refused = call_of(other, worker_id, "call_denied")
        await expect_pending(refused, DENIED)
        await refused.get_by_role("button", name="Deny").click()
        denied = call_of(console.page, worker_id, "call_denied")
        await expect(denied.locator(".tool-approval")).to_have_attribute("data-state", "denied")
        await expect(denied.locator(".approval-outcome")).to_have_text("Denied by a person")
        await expect(denied.get_by_role("button")).to_have_count(0)
        await expect(denied).to_have_attribute("data-state", "error")
        await expect(denied.locator(".tool-summary")).to_contain_text("a person denied it")
        view = worker_view(console.page, worker_id)
        await expect(view.locator('li.run-result[data-result="completed"]')).to_have_count(1)
        await console.screenshot("approval-resolved")
        assert await view.locator("ol.transcript img").count() == 0
        assert await console.page.evaluate("() => window.pwned") is None
        await other.close()


async def test_an_approval_nobody_answers_ends_denied_by_its_timeout() -> None:
    turns: list[Turn] = [[Call("echo", ALLOWED, id="call_late")], [Text("Nobody answered")]]
    limits = RuntimeLimits(approval_timeout_seconds=1.5)
    async with open_tool_console(turns, [EchoTool()], profile=GUARDED, limits=limits) as console:
        worker_id = await console.create_worker("Guarded", ["echo"])
        await console.goto(f"#/workers/{EMBEDDED}/{worker_id}")
        view = worker_view(console.page, worker_id)
        await view.evaluate(SAW_BUTTONS)
        await ask(console, worker_id, "Deploy it tonight")
        late = call_of(console.page, worker_id, "call_late")
        approval = late.locator(".tool-approval")
        await expect(approval).to_have_attribute("data-state", "denied")
        assert await console.page.evaluate("() => window.yoiSawButtons") == ["Allow", "Deny"]
        await expect(approval.locator(".approval-outcome")).to_have_text(
            "Denied when its time ran out"
        )
        await expect(approval.get_by_role("button")).to_have_count(0)
        await expect(late).to_have_attribute("data-state", "error")
