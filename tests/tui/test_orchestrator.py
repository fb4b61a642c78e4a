"""The orchestrator screen and its stream's client, against a real backend whose orchestrator
works on the demo playbook model in a temporary git repository; and the screen's logic."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.tui.rig import DEADLINE, OrchestratedBackend, orchestrated_backend
from textual.pilot import Pilot
from textual.widgets import DataTable, RichLog, Static

from yoi.backend.orchestration import NO_MODEL
from yoi.client.orchestrator_events import OrchestratorSnapshot, RunTransition
from yoi.errors import (
    CursorExpired,
    InvalidCursor,
    RuntimeUnavailable,
    SlowConsumer,
    UnsupportedOperation,
)
from yoi.orchestrator.settings import OrchestratorSettings
from yoi.tui.app import YoiApp
from yoi.tui.orchestrator import OrchestratorScreen
from yoi.tui.runs import (
    OFF,
    Action,
    Resume,
    RunRow,
    cost_text,
    explanation_lines,
    phase_text,
    resume_after,
    tokens_text,
    transition_text,
)

GATED = OrchestratorSettings(pass_interval=0.5, plan_gate=True)


# -- the logic ------------------------------------------------------------------------------


def test_phase_cost_and_tokens_read_as_the_web_console_writes_them() -> None:
    assert phase_text({"phase": "reviewing", "review_round": 2}) == "reviewing · round 2"
    assert phase_text({"phase": "stopped", "stop_reason": "stopped_by_person"}) == (
        "stopped: stopped_by_person"
    )
    assert phase_text({"phase": "cleaning_up"}) == "cleaning up"
    assert (cost_text(None), cost_text(0.00123), cost_text(1.5)) == (
        "cost unknown",
        "$0.0012",
        "$1.50",
    )
    usage = {"input_tokens": 1234, "output_tokens": 56, "cached_tokens": 0}
    assert tokens_text(usage) == "1,234 in · 56 out"


def run(**fields: object) -> dict[str, object]:
    return {"ticket_id": "T1", "title": "Build", "phase": "implementing", "over": False} | fields


@pytest.mark.parametrize(
    ("fields", "actions"),
    [
        ({}, {Action.STOP}),
        ({"gate": {"gate": "plan"}}, {Action.STOP, Action.APPROVE, Action.REJECT}),
        ({"phase": "failed", "over": True}, {Action.RETRY}),
        ({"phase": "done", "over": True}, set()),
    ],
)
def test_a_run_offers_what_its_phase_and_gate_allow(
    fields: dict[str, object], actions: set[Action]
) -> None:
    assert RunRow.read(run(**fields)).actions == actions


def test_a_row_says_workers_usage_and_why_the_run_waits() -> None:
    row = RunRow.read(
        run(
            coder={"runtime_id": "local", "worker_id": "yoi-coder-t1"},
            reviewer=None,
            reason="awaiting_plan_approval",
            usage={"run": {"input_tokens": 10, "output_tokens": 2, "cost_usd": None}},
        )
    )
    assert (row.workers, row.tokens, row.cost) == (
        "coder yoi-coder-t1",
        "10 in · 2 out",
        "cost unknown",
    )
    assert row.waiting == "awaiting plan approval"


def transition(**fields: object) -> RunTransition:
    base: dict[str, object] = {
        "ticket_id": "T1",
        "attempt": 1,
        "kind": "phase",
        "from": "implementing",
        "to": "reviewing",
        "gate": None,
        "reason": None,
    }
    return RunTransition.read(base | fields, "c", 1, 0.0)


def test_a_transition_is_one_line() -> None:
    assert transition_text(transition()) == "T1 #1 implementing → reviewing"
    assert transition_text(transition(**{"from": None, "to": "accepting"})) == "T1 #1 → accepting"
    gate = transition(kind="gate", to="rejected", gate="plan", reason="gate_rejected")
    assert transition_text(gate) == "T1 #1 plan gate rejected (gate rejected)"


def test_the_stream_resyncs_after_an_expired_cursor_and_resumes_after_a_cut() -> None:
    assert resume_after(CursorExpired("old"), "c1") == Resume(None, 0.0)
    assert resume_after(InvalidCursor("bad"), "c1") == Resume(None, 0.0)
    assert resume_after(RuntimeUnavailable("cut"), "c1") == Resume("c1", 1.0)
    assert resume_after(SlowConsumer("slow"), "c1") == Resume("c1", 1.0)
    assert resume_after(UnsupportedOperation("off"), "c1") is None


def test_an_explanation_lists_its_reasons_and_the_next_action() -> None:
    explained = {
        "ticket_id": "T2",
        "sentence": "It waits for T1.",
        "reasons": [{"code": "depends_on", "ticket_id": "T1", "state": "inprogress"}],
        "decision": {"next_action": "Finish T1."},
    }
    assert explanation_lines(explained) == (
        "T2: It waits for T1.",
        "• depends on T1 (inprogress)",
        "Next: Finish T1.",
    )


# -- the stream's client ------------------------------------------------------------------------


async def test_the_client_hears_a_snapshot_then_transitions_and_resumes_by_cursor(
    tmp_path: Path,
) -> None:
    async with orchestrated_backend(tmp_path) as served, served.connect() as client:
        async with await client.orchestrator_events() as events:
            first = await anext(events)
            assert isinstance(first, OrchestratorSnapshot)
            assert first.status["enabled"] is True
            ticket = served.queue("Write a note")
            heard = [await anext(events) for _ in range(2)]
            kept = events.cursor
        assert all(isinstance(item, RunTransition) for item in heard)
        opened = heard[0]
        assert isinstance(opened, RunTransition)
        assert (opened.ticket_id, opened.from_phase, opened.to) == (ticket, None, "accepting")
        async with await client.orchestrator_events(kept) as resumed:
            after = await anext(resumed)
        assert isinstance(after, RunTransition)
        assert after.seq == heard[-1].seq + 1


async def test_the_client_raises_invalid_cursor_from_the_iteration(tmp_path: Path) -> None:
    async with (
        orchestrated_backend(tmp_path) as served,
        served.connect() as client,
        await client.orchestrator_events("nonsense") as events,
    ):
        with pytest.raises(InvalidCursor):
            await anext(events)


async def test_without_an_orchestrator_the_client_is_refused(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, on=False) as served, served.connect() as client:
        with pytest.raises(UnsupportedOperation):
            await client.orchestrator_events()


# -- the screen ----------------------------------------------------------------------------------


async def until(pilot: Pilot[None], check: Callable[[], bool]) -> None:
    """Let the app run until ``check`` holds, with a deadline."""
    async with asyncio.timeout(DEADLINE):
        while not check():
            await pilot.pause(0.05)


def screen_of(app: YoiApp) -> OrchestratorScreen:
    screen = app.screen
    assert isinstance(screen, OrchestratorScreen)
    return screen


def cells(app: YoiApp, table: str) -> list[list[str]]:
    found = screen_of(app).query_one(f"#{table}", DataTable)
    return [[str(cell) for cell in found.get_row_at(index)] for index in range(found.row_count)]


def log_lines(app: YoiApp) -> list[str]:
    return [line.text for line in screen_of(app).query_one("#events", RichLog).lines]


def text_of(app: YoiApp, name: str) -> str:
    return str(screen_of(app).query_one(f"#{name}", Static).render())


def phase(app: YoiApp, ticket: str) -> str | None:
    run = next((r for r in screen_of(app).view.runs if r.ticket_id == ticket), None)
    return None if run is None else run.phase


async def test_a_queued_ticket_moves_through_the_phases_on_the_screen(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: "on · ready" in text_of(app, "summary"))
            ticket = served.queue("Write a note")
            await until(pilot, lambda: phase(app, ticket) == "done")
            lines = [line for line in log_lines(app) if line.startswith(ticket)]
            row = cells(app, "runs")[0]
    assert lines[0] == f"{ticket} #1 → accepting"
    assert lines[-1] == f"{ticket} #1 cleaning up → done"
    assert any("implementing → reviewing" in line for line in lines)
    assert row[0] == ticket
    assert row[1] == "Write a note"
    assert "coder" in row[4]
    assert row[5].endswith(" out")
    assert row[6] == "$0.00"  # the demo model is free


async def gated_run(pilot: Pilot[None], app: YoiApp, served: OrchestratedBackend) -> str:
    await until(pilot, lambda: "ready" in text_of(app, "summary"))
    ticket = served.queue("Plan first")
    await until(pilot, lambda: any("plan gate open" in line for line in log_lines(app)))
    await until(pilot, lambda: any(Action.APPROVE in r.actions for r in screen_of(app).view.runs))
    return ticket


async def test_approving_a_gate_lets_the_run_go_on_to_done(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, settings=GATED) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            ticket = await gated_run(pilot, app, served)
            assert cells(app, "runs")[0][7] == "awaiting plan approval"
            await pilot.press("a")
            await until(pilot, lambda: phase(app, ticket) == "done")
            assert f"{ticket} #1 plan gate approved" in log_lines(app)
            assert app.reported == []


async def test_rejecting_a_gate_stops_the_run(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, settings=GATED) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            ticket = await gated_run(pilot, app, served)
            await pilot.press("d")
            await until(pilot, lambda: f"{ticket} #1 plan gate rejected" in log_lines(app))
            await until(pilot, lambda: (phase(app, ticket) or "").startswith("stopped"))
            assert app.reported == []


async def test_stop_then_retry_starts_a_new_attempt(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, settings=GATED) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            ticket = await gated_run(pilot, app, served)
            await pilot.press("s")
            await until(pilot, lambda: phase(app, ticket) == "stopped: stopped_by_person")
            assert screen_of(app).selected_run is not None
            await pilot.press("r")
            await until(pilot, lambda: f"{ticket} #2 stopped → implementing" in log_lines(app))
            assert app.reported == []


async def test_an_action_the_run_does_not_offer_is_not_bound(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, settings=GATED) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            await gated_run(pilot, app, served)
            screen = screen_of(app)
            assert screen.check_action("retry", ()) is False
            assert screen.check_action("stop", ()) is True


async def test_with_the_orchestrator_off_the_screen_says_why(tmp_path: Path) -> None:
    async with orchestrated_backend(tmp_path, on=False) as served:
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: "the orchestrator is off" in text_of(app, "notes"))
            assert text_of(app, "notes").startswith(OFF)
            assert text_of(app, "summary").startswith("off · not ready")


async def test_without_a_model_the_problem_shows_and_x_explains_a_waiting_ticket(
    tmp_path: Path,
) -> None:
    async with orchestrated_backend(tmp_path, model_problem=NO_MODEL) as served:
        ticket = served.queue("Waits")
        app = YoiApp(served.connect, start="orchestrator")
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: f"no_model: {NO_MODEL}" in text_of(app, "notes"))
            await until(pilot, lambda: len(cells(app, "waiting")) == 1)
            assert cells(app, "waiting")[0][0] == ticket
            await pilot.press("tab")
            await pilot.press("x")
            await until(pilot, lambda: text_of(app, "explain").startswith(f"{ticket}: "))
            assert "\nNext: " in text_of(app, "explain")
