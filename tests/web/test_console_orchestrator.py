"""The board shows the orchestrator: each run's phase and workers, why a queued ticket waits,
the orchestrator's problems, and offers Queue, Return to planning, Stop and Retry.

A real ``yoi serve`` on a temporary git repository with the offline model: the orchestrator
opens its state, lists a ``no_model`` problem and starts nothing, so the runs a test seeds
in its state stay as seeded while the page shows them.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.async_api import Locator, Page, WebSocketRoute, async_playwright, expect
from tests.backend.test_process import Served, Serving
from tests.git_repo import git
from tests.server.test_process import clean_env
from tests.web.rig import ARTIFACTS, DEADLINE, Record, launch, watch

from yoi.orchestrator.run_record import Phase, Run
from yoi.orchestrator.state import OrchestratorState, state_path
from yoi.tickets import RelationKind, State, TicketStore

PERSON = "ann"
CODER = "yoi-coder-x"
REVIEWER = "yoi-reviewer-x"


@dataclass
class Board:
    page: Page
    backend: Served
    tickets: TicketStore

    async def get(self, path: str) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=self.backend.loopback) as http:
            answer = await http.get(path)
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    async def post(self, path: str) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=self.backend.loopback) as http:
            answer = await http.post(path, json={})
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    async def state_of(self, ticket_id: str) -> str:
        body = await self.get(f"/api/tickets/{ticket_id}")
        ticket = body["ticket"]
        assert isinstance(ticket, dict)
        state: str = ticket["meta"]["state"]
        return state


def make_repository(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("print('one')\n")
    (root / ".gitignore").write_text(".yoi/state/\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    return root


def moved(store: TicketStore, title: str, *states: State) -> str:
    ticket_id = store.create(title, f"{title}.\n", author=PERSON).id
    for state in states:
        summary = f"{title}: what it asks for" if state is State.READY else None
        store.move(ticket_id, state, author=PERSON, summary=summary)
    return ticket_id


def seed_run(root: Path, run: Run) -> None:
    """A run as the orchestrator would have saved it, written before the backend starts."""
    with OrchestratorState.open(state_path(root)) as state:
        state.save(run)


@asynccontextmanager
async def open_board(
    tmp_path: Path, root: Path, tickets: TicketStore, *, model: str = "scripted:offline"
) -> AsyncIterator[Board]:
    """``yoi serve`` on ``root`` with ``model`` (the offline one unless named), and Chromium
    on its board."""
    record = Record()
    async with Serving(tmp_path) as serving, async_playwright() as playwright:
        backend = await serving.serve(root, "--model", model, env=clean_env())
        browser = await launch(playwright)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(DEADLINE * 1000)
        watch(page, record)
        await page.goto(f"{backend.loopback}/#/board")
        yield Board(page, backend, tickets)
        await browser.close()
    assert record.problems == [], record.problems


def card(page: Page, ticket_id: str) -> Locator:
    return page.locator(f"article.card[data-ticket-id='{ticket_id}']")


async def test_the_board_shows_runs_waits_and_problems_and_returns_a_queued_ticket(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "project")
    store = TicketStore.for_workspace(root)
    running = moved(store, "Build the parser", State.READY, State.QUEUED, State.INPROGRESS)
    waiting = moved(store, "Use the parser", State.READY, State.QUEUED)
    store.add_relation(waiting, RelationKind.DEPENDS_ON, running, author=PERSON)
    ready = moved(store, "Document the parser", State.READY)
    now = time.time()
    review = Run(
        ticket_id=running,
        attempt=1,
        phase=Phase.REVIEWING,
        started_at=now,
        updated_at=now,
        review_round=2,
        coder_worker_id=CODER,
        reviewer_worker_id=REVIEWER,
        branch=f"work/{running}-build-the-parser",
    )
    seed_run(root, review)

    async with open_board(tmp_path, root, store) as board:
        page = board.page
        status = await board.get("/api/orchestrator")

        # The problem that keeps the orchestrator from starting anything, once, above the board.
        problem = page.locator("[data-role=orchestrator-problem]")
        await expect(problem).to_have_count(1)
        await expect(problem).to_have_attribute("data-code", "no_model")
        await expect(page.locator("[data-role=orchestrator-off]")).to_have_count(0)

        # The run in review: its phase and round, links to its live worker consoles, Stop.
        run_card = card(page, running)
        await expect(run_card.locator("[data-role=phase]")).to_have_text("reviewing · round 2")
        coder = run_card.locator("[data-role=coder-link]")
        await expect(coder).to_have_attribute("href", f"#/workers/local/{CODER}")
        reviewer = run_card.locator("[data-role=reviewer-link]")
        await expect(reviewer).to_have_attribute("href", f"#/workers/local/{REVIEWER}")
        await expect(run_card.locator("button[data-action=stop]")).to_be_visible()
        await expect(run_card.locator("button[data-action=retry]")).to_have_count(0)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "board-orchestrator.png"), full_page=True)

        # The queued ticket says, in the API's sentence, why it has not started.
        listed = status["waiting"]
        assert isinstance(listed, list)
        sentences = {item["ticket_id"]: item["sentence"] for item in listed}
        wait_card = card(page, waiting)
        await expect(wait_card.locator("[data-role=waiting]")).to_have_text(sentences[waiting])
        await expect(wait_card.locator("[data-role=phase]")).to_have_count(0)

        # Its drawer explains it: the dependency on the running ticket, linked.
        await wait_card.get_by_role("link", name="Use the parser").click()
        panel = page.get_by_role("dialog", name="Use the parser")
        orchestration = panel.locator("[data-role=orchestration]")
        explained = await board.get(f"/api/tickets/{waiting}/explain")
        await expect(orchestration.locator("[data-role=explain]")).to_have_text(
            str(explained["sentence"])
        )
        reasons = orchestration.locator("[data-role=explain-reasons]")
        await expect(reasons.get_by_role("link", name=running)).to_have_attribute(
            "href", f"#/board/{running}"
        )
        await panel.get_by_role("button", name="Close drawer").click()

        # Return to planning from the card: the ticket is back in planning.
        await wait_card.locator("button[data-action=planning]").click()
        await expect(
            page.locator(f"section.column[data-state=planning] {card_selector(waiting)}")
        ).to_be_visible()
        assert await board.state_of(waiting) == "planning"

        # Queue from the card: the ready ticket is queued, and now says why it waits.
        await card(page, ready).locator("button[data-action=queue]").click()
        queued = page.locator(f"section.column[data-state=queued] {card_selector(ready)}")
        await expect(queued.locator("[data-role=waiting]")).to_contain_text(ready)
        assert await board.state_of(ready) == "queued"


def card_selector(ticket_id: str) -> str:
    return f"article.card[data-ticket-id='{ticket_id}']"


async def test_a_stale_stop_is_refused_on_its_card_and_a_retry_waits_for_a_model(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "project")
    store = TicketStore.for_workspace(root)
    running = moved(store, "Build the parser", State.READY, State.QUEUED, State.INPROGRESS)
    now = time.time()
    seed_run(
        root,
        Run(
            ticket_id=running,
            attempt=1,
            phase=Phase.IMPLEMENTING,
            started_at=now,
            updated_at=now,
            coder_worker_id=CODER,
        ),
    )

    async with open_board(tmp_path, root, store) as board:
        page = board.page
        # The ticket feed and the orchestrator's stream stay silent, as when a change lands
        # before the page hears of it.
        silenced: list[WebSocketRoute] = []

        def silence(feed: WebSocketRoute) -> None:
            silenced.append(feed)

        await page.route_web_socket(re.compile(r"/api/(tickets|orchestrator)/events/ws$"), silence)
        await page.reload()
        run_card = card(page, running)
        await expect(run_card.locator("[data-role=phase]")).to_have_text("implementing")
        await expect(run_card.locator("[data-role=reviewer-link]")).to_have_count(0)
        assert silenced

        # Someone else stops the run; this page's Stop is refused, inline on the card.
        stopped = await board.post(f"/api/orchestrator/runs/{running}/stop")
        assert stopped["phase"] == "stopped"
        await run_card.locator("button[data-action=stop]").click()
        refused = run_card.locator(".error-line[data-code=invalid_transition]")
        await expect(refused).to_contain_text("stopped")
        await expect(run_card.locator("[data-role=phase]")).to_have_text(
            "stopped: stopped_by_person"
        )
        await expect(run_card.locator("button[data-action=stop]")).to_have_count(0)

        # The drawer shows the run; a retry waits for a model, and says so where it was asked.
        await run_card.get_by_role("link", name="Build the parser").click()
        panel = page.get_by_role("dialog", name="Build the parser")
        orchestration = panel.locator("[data-role=orchestration]")
        await expect(orchestration.locator("[data-role=phase]")).to_have_text(
            "stopped: stopped_by_person"
        )
        await expect(orchestration.locator("[data-fact=attempt] dd")).to_have_text("1")
        await orchestration.get_by_role("button", name="Retry").click()
        refusal = orchestration.locator(".error-line[data-code=invalid_transition]")
        await expect(refusal).to_contain_text("cannot start again now")
        await expect(orchestration.locator("[data-fact=attempt] dd")).to_have_text("1")
        await page.screenshot(path=str(ARTIFACTS / "ticket-drawer-orchestrator.png"))


async def test_an_orchestrator_turned_off_says_so_and_still_explains(tmp_path: Path) -> None:
    root = make_repository(tmp_path / "project")
    (root / ".yoi").mkdir()
    (root / ".yoi" / "config.toml").write_text("[orchestrator]\nenabled = false\n")
    store = TicketStore.for_workspace(root)
    first = moved(store, "Write the schema", State.READY, State.QUEUED)
    second = moved(store, "Build on the schema", State.READY, State.QUEUED)
    store.add_relation(second, RelationKind.DEPENDS_ON, first, author=PERSON)

    async with open_board(tmp_path, root, store) as board:
        page = board.page
        off = page.locator("[data-role=orchestrator-off]")
        await expect(off).to_have_text("The orchestrator is off: queued tickets are not started.")
        await expect(page.locator("[data-role=orchestrator-problem]")).to_have_count(0)
        await expect(card(page, second).locator("button[data-action=planning]")).to_be_visible()

        await card(page, second).get_by_role("link", name="Build on the schema").click()
        panel = page.get_by_role("dialog", name="Build on the schema")
        explained = await board.get(f"/api/tickets/{second}/explain")
        assert first in str(explained["sentence"])
        orchestration = panel.locator("[data-role=orchestration]")
        await expect(orchestration.locator("[data-role=explain]")).to_have_text(
            str(explained["sentence"])
        )
        reasons = explained["reasons"]
        decision = explained["decision"]
        assert isinstance(reasons, list)
        assert isinstance(decision, dict)
        items = orchestration.locator("[data-role=explain-reasons] li")
        await expect(items).to_have_count(len(reasons))
        await expect(items.first).to_have_attribute("title", reasons[0]["detail"])
        await expect(orchestration.locator("[data-role=explain-next]")).to_have_text(
            f"Next: {decision['next_action']}"
        )
