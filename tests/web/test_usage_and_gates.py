"""The console shows what runs and workers use, as the backend counts and prices it, and
the gates a run waits at.

- An in-progress card shows its run's tokens and cost (``cost unknown`` where no price is
  known); its drawer a row per worker. The usage is seeded in the orchestrator's state of a
  real ``yoi serve`` with the offline model, which starts nothing, so it stays as seeded.
- A worker's console shows its tokens and their cost as they grow: a real remote runtime on
  ``openai:gpt-4o-mini`` whose fake server reports usage; the price is the backend's.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
from playwright.async_api import expect
from tests.web.rig import ARTIFACTS, REMOTE, open_console
from tests.web.test_console_orchestrator import card, make_repository, moved, open_board, seed_run

from yoi.orchestrator.prices import price
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.usage_record import WorkerUsage
from yoi.providers.script import Turn
from yoi.testing import Text, Usage
from yoi.tickets import State, TicketStore

PRICED = "openai:gpt-4o-mini"
CODER = "yoi-coder-x"
REVIEWER = "yoi-reviewer-x"


def seed_usage(root: Path, rows: list[WorkerUsage]) -> None:
    with OrchestratorState.open(state_path(root)) as state:
        state.record_usage(rows)


def dollars(cost: Decimal | None) -> str:
    """The console's way of writing a cost: four decimals below a cent."""
    assert cost is not None
    value = float(cost)
    return f"${value:.4f}" if value < 0.01 else f"${value:.2f}"


async def test_an_inprogress_card_and_its_drawer_show_the_runs_usage(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "project")
    store = TicketStore.for_workspace(root)
    priced = moved(store, "Build the parser", State.READY, State.QUEUED, State.INPROGRESS)
    unknown = moved(store, "Use the parser", State.READY, State.QUEUED, State.INPROGRESS)
    now = time.time()
    for ticket, worker in ((priced, CODER), (unknown, "yoi-coder-y")):
        seed_run(
            root,
            Run(
                ticket_id=ticket,
                attempt=1,
                phase=Phase.IMPLEMENTING,
                started_at=now,
                updated_at=now,
                coder_worker_id=worker,
            ),
        )
    seed_usage(
        root,
        [
            WorkerUsage(priced, 1, "yoi-intake-x", "intake", PRICED, 12_000, 3_000),
            WorkerUsage(priced, 1, CODER, "coder", PRICED, 40_000, 5_000, 1_000),
            WorkerUsage(unknown, 1, "yoi-coder-y", "coder", "scripted:offline", 700, 80),
        ],
    )
    cost = price(PRICED, 12_000, 3_000) + price(PRICED, 40_000, 5_000, 1_000)  # type: ignore[operator]

    async with open_board(tmp_path, root, store) as board:
        page = board.page
        status = await board.get("/api/orchestrator")
        runs = {run["ticket_id"]: run for run in status["runs"]}  # type: ignore[attr-defined]
        assert runs[priced]["usage"]["run"]["cost_usd"] == float(cost)
        assert runs[unknown]["usage"]["run"]["cost_usd"] is None

        shown = card(page, priced).locator("[data-role=usage]")
        await expect(shown.locator("[data-role=tokens]")).to_have_text(
            "52,000 in · 8,000 out · 1,000 cached"
        )
        await expect(shown.locator("[data-role=cost]")).to_have_text(dollars(cost))
        await expect(shown).to_have_attribute("data-cost", "known")
        unpriced = card(page, unknown).locator("[data-role=usage]")
        await expect(unpriced.locator("[data-role=tokens]")).to_have_text("700 in · 80 out")
        await expect(unpriced.locator("[data-role=cost]")).to_have_text("cost unknown")
        await expect(unpriced).to_have_attribute("data-cost", "unknown")

        # The drawer: the run's total, then a row per worker with its model and cost.
        await card(page, priced).get_by_role("link", name="Build the parser").click()
        panel = page.get_by_role("dialog", name="Build the parser")
        usage = panel.locator("[data-role=run-usage]")
        await expect(usage.locator("[data-role=usage-run] [data-role=cost]")).to_have_text(
            dollars(cost)
        )
        table = usage.get_by_role("table", name="Usage per worker")
        rows = table.locator("tbody tr")
        await expect(rows).to_have_count(2)
        coder = table.locator(f"tr[data-worker-id='{CODER}']")
        await expect(coder.get_by_role("rowheader")).to_have_text("coder · attempt 1")
        await expect(coder.get_by_role("cell")).to_have_text(
            [PRICED, "40,000", "5,000", "1,000", dollars(price(PRICED, 40_000, 5_000, 1_000))]
        )
        intake = table.locator("tr[data-worker-id='yoi-intake-x'] th")
        await expect(intake).to_have_text("intake · attempt 1")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "board-usage.png"))


async def test_a_worker_console_shows_its_tokens_and_their_cost_as_they_grow(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [
        [Text("Counted"), Usage(12_000, 3_000)],
        [Text("Counted again"), Usage(8_000, 1_000)],
    ]
    async with (
        open_console(tmp_path, turns, route="#/workers") as console,
        httpx.AsyncClient(base_url=console.url) as http,
    ):
        made = await http.post(
            f"/api/runtimes/{REMOTE}/workers", json={"display_name": "Scout", "profile": "default"}
        )
        assert made.status_code == 201, made.text
        worker = made.json()["worker"]
        assert worker["usage_summary"] == {
            "input_tokens": 0,
            "output_tokens": 0,
            "cached_tokens": 0,
            "cost_usd": 0.0,
        }
        page = console.page
        await console.goto(f"#/workers/{REMOTE}/{worker['worker_id']}")
        usage = page.locator("section.worker-console [data-role=worker-usage] [data-role=usage]")
        await expect(usage.locator("[data-role=tokens]")).to_have_text("0 in · 0 out")
        await expect(usage.locator("[data-role=cost]")).to_have_text("$0.00")

        box = page.locator("form.composer").get_by_label("Message to Scout")
        await box.fill("Count this")
        await box.press("Enter")
        await expect(usage.locator("[data-role=tokens]")).to_have_text("12,000 in · 3,000 out")
        await expect(usage.locator("[data-role=cost]")).to_have_text(
            dollars(price(PRICED, 12_000, 3_000))
        )
        await box.fill("And this")
        await box.press("Enter")
        await expect(usage.locator("[data-role=tokens]")).to_have_text("20,000 in · 4,000 out")
        await expect(usage.locator("[data-role=cost]")).to_have_text(
            dollars(price(PRICED, 20_000, 4_000))
        )
        await expect(usage).to_have_attribute(
            "aria-label", f"Usage: 20,000 in · 4,000 out, {dollars(price(PRICED, 20_000, 4_000))}"
        )
        await console.screenshot("worker-console-usage")
