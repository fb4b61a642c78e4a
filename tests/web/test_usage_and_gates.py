"""The console shows what runs and workers use, as the backend counts and prices it, and
the gates a run waits at.

- An in-progress card shows its run's tokens and cost (``cost unknown`` where no price is
  known); its drawer a row per worker. The usage is seeded in the orchestrator's state of a
  real ``yoi serve`` with the offline model, which starts nothing, so it stays as seeded.
- A worker's console shows its tokens and their cost as they grow: a real remote runtime on
  ``openai:gpt-4o-mini`` whose fake server reports usage; the price is the backend's.
- A plan gate: ``yoi serve`` on the demo playbook model with ``plan_gate = true`` parks each
  run after its intake; the card and the drawer say so, show the dossier and offer Approve
  and Reject; approving lets the run go on to ``done``, rejecting (with a note) returns the
  ticket to planning, and a decision the backend refuses is shown where it was asked.
"""

from __future__ import annotations

import re
import time
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path

import httpx
from playwright.async_api import WebSocketRoute, expect
from tests.web.rig import ARTIFACTS, DEADLINE, REMOTE, open_console
from tests.web.test_console_orchestrator import (
    Board,
    card,
    make_repository,
    moved,
    open_board,
    seed_run,
)

from yoi.orchestrator.prices import price
from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.orchestrator.usage_record import WorkerUsage
from yoi.providers.script import Turn
from yoi.testing import Text, Usage
from yoi.tickets import State, TicketStore

PRICED = "openai:gpt-4o-mini"
CODER = "yoi-coder-x"
CARD = "article.card[data-ticket-id='{}']"


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
    ended = moved(store, "Document the parser", State.READY, State.QUEUED, State.INPROGRESS)
    now = time.time()
    seed_run(
        root,
        Run(
            ticket_id=ended,
            attempt=1,
            phase=Phase.FAILED,
            started_at=now,
            updated_at=now,
            stop_reason="fix_rounds_exhausted",
        ),
    )
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
        # A run that is not running says why, in the backend's word, besides its phase.
        assert runs[ended]["reason"] == "suppressed"
        reason = card(page, ended).locator("[data-role=run-reason]")
        await expect(reason).to_have_text("suppressed")
        await expect(card(page, priced).locator("[data-role=run-reason]")).to_have_count(0)
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
        priced = await http.get(f"/api/runtimes/{REMOTE}/workers/{worker['worker_id']}/usage")
        assert priced.json()["usage"] == {
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
        await expect(usage).to_have_text(
            f"Usage: 20,000 in · 4,000 out · {dollars(price(PRICED, 20_000, 4_000))}"
        )
        await console.screenshot("worker-console-usage")


GATED = """\
[orchestrator]
plan_gate = true
max_parallel = 3
pass_interval = 1
"""


def open_demo_board(
    tmp_path: Path, root: Path, tickets: TicketStore
) -> AbstractAsyncContextManager[Board]:
    """``yoi serve`` on ``root`` with the demo playbook model, and Chromium on its board."""
    return open_board(tmp_path, root, tickets, model="demo:playbook")


async def gate_of(board: Board, ticket_id: str) -> dict[str, object] | None:
    status = await board.get("/api/orchestrator")
    runs = {run["ticket_id"]: run for run in status["runs"]}  # type: ignore[attr-defined]
    gate: dict[str, object] | None = runs[ticket_id]["gate"]
    return gate


async def test_a_plan_gated_run_is_approved_or_rejected_from_the_board(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "project")
    (root / ".yoi").mkdir(exist_ok=True)
    (root / ".yoi" / "config.toml").write_text(GATED)
    store = TicketStore.for_workspace(root)
    approved = moved(store, "Write the notes", State.READY, State.QUEUED)
    rejected = moved(store, "Write the other notes", State.READY, State.QUEUED)
    stale = moved(store, "Write more notes", State.READY, State.QUEUED)

    async with open_demo_board(tmp_path, root, store) as board:
        page = board.page
        for ticket in (approved, rejected, stale):
            badge = card(page, ticket).locator("[data-role=gate]")
            await expect(badge).to_have_text("awaiting plan approval")
            await expect(badge).to_have_attribute("data-gate", "plan")
        gate = await gate_of(board, approved)
        assert gate is not None
        assert gate["gate"] == "plan"
        dossier = str(gate["dossier"])
        first_line = next(line for line in dossier.splitlines() if line.strip())
        plain = first_line.strip("# ").replace("`", "")  # as the rendered HTML reads

        # The card folds the dossier; the drawer shows it, with Approve and Reject.
        folded = card(page, approved).locator("details[data-role=dossier]")
        await expect(folded.locator("summary")).to_have_text("Plan dossier")
        await folded.locator("summary").click()
        await expect(folded).to_contain_text(plain)
        await card(page, approved).get_by_role("link", name="Write the notes").click()
        panel = page.get_by_role("dialog", name="Write the notes")
        orchestration = panel.locator("[data-role=orchestration]")
        await expect(orchestration.locator("[data-role=gate]")).to_have_text(
            "awaiting plan approval"
        )
        shown = orchestration.get_by_role("region", name="Plan dossier")
        await expect(shown).to_contain_text(plain)
        await expect(shown.locator("[data-role=gate-since]")).to_contain_text("Waiting since")
        await page.screenshot(path=str(ARTIFACTS / "board-plan-gate.png"))

        # Approved in the drawer: the run goes on, its ticket to done.
        await orchestration.get_by_role("button", name=f"Approve plan of {approved}").click()
        await expect(orchestration.locator("[data-role=gate]")).to_have_count(0)
        assert await gate_of(board, approved) is None
        await panel.get_by_role("button", name="Close drawer").click()
        done = page.locator(f"section.column[data-state=done] {CARD.format(approved)}")
        await expect(done).to_be_visible(timeout=3 * DEADLINE * 1000)

        # Rejected from its card, with a note: the ticket is back in planning, the note said.
        await card(page, rejected).get_by_role("button", name=f"Reject plan of {rejected}").click()
        dialog = page.get_by_role("dialog", name=f"Reject the plan of {rejected}?")
        await dialog.get_by_label("Note (optional)").fill("Split it in two first.")
        await dialog.get_by_role("button", name="Reject").click()
        await expect(dialog).to_have_count(0)
        planning = page.locator(f"section.column[data-state=planning] {CARD.format(rejected)}")
        await expect(planning).to_be_visible()
        assert await board.state_of(rejected) == "planning"
        thread = await board.get(f"/api/tickets/{rejected}")
        assert "Split it in two first." in str(thread), thread

        # A decision made elsewhere first: this page's Approve is refused, inline on the card.
        silenced: list[WebSocketRoute] = []

        def silence(stream: WebSocketRoute) -> None:
            silenced.append(stream)

        await page.route_web_socket(re.compile(r"/events/ws$"), silence)
        await page.reload()
        stale_card = card(page, stale)
        await expect(stale_card.locator("[data-role=gate]")).to_be_visible()
        assert silenced
        async with httpx.AsyncClient(base_url=board.backend.loopback) as http:
            answer = await http.post(
                f"/api/orchestrator/runs/{stale}/gate", json={"gate": "plan", "decision": "approve"}
            )
        assert answer.status_code == 200, answer.text
        await stale_card.get_by_role("button", name=f"Approve plan of {stale}").click()
        refused = stale_card.locator(".error-line[data-code=invalid_transition]")
        await expect(refused).to_be_visible()
        await expect(refused.locator(".error-code")).to_have_text("invalid_transition")
        await expect(stale_card.locator("[data-role=gate]")).to_have_count(0)


async def test_a_merge_gated_run_waits_on_its_card_until_approved(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "project")
    (root / ".yoi").mkdir(exist_ok=True)
    (root / ".yoi" / "config.toml").write_text(GATED.replace("plan_gate", "merge_gate"))
    store = TicketStore.for_workspace(root)
    ticket = moved(store, "Write the notes", State.READY, State.QUEUED)

    async with open_demo_board(tmp_path, root, store) as board:
        page = board.page
        waiting = card(page, ticket)
        badge = waiting.locator("[data-role=gate]")
        await expect(badge).to_have_text("awaiting merge approval", timeout=3 * DEADLINE * 1000)
        await expect(waiting.locator("[data-role=phase]")).to_have_text("merging")
        gate = await gate_of(board, ticket)
        assert gate is not None
        assert gate["gate"] == "merge"
        folded = waiting.locator("details[data-role=dossier]")
        await expect(folded).to_have_attribute("data-gate", "merge")
        await expect(folded.locator("summary")).to_have_text("Merge dossier")
        await expect(
            waiting.get_by_role("button", name=f"Reject merge of {ticket}")
        ).to_be_visible()

        await waiting.get_by_role("button", name=f"Approve merge of {ticket}").click()
        done = page.locator(f"section.column[data-state=done] {CARD.format(ticket)}")
        await expect(done).to_be_visible(timeout=3 * DEADLINE * 1000)
        assert await gate_of(board, ticket) is None
