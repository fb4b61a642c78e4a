"""The recorder writes the orchestrator's events through a real ticket store: they read back
through the tickets library, the doctor finds nothing wrong, and a decision is written once
per change of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tickets.rig import Clock, make, new_store

from yoi.errors import InvalidRequest
from yoi.orchestrator.branch_facts import BranchFacts, Commit, FileChange
from yoi.orchestrator.policy_decision import Routing
from yoi.orchestrator.records import AcceptedPlan, TicketRecorder
from yoi.orchestrator.records_decision import DecisionRecord, PlanNote, parse_decision
from yoi.orchestrator.records_work import Cleanup, IntegrationReport, Kickoff, ValidationRun
from yoi.tickets import EventKind, PlanKind, ReviewStatus, State, TicketStore
from yoi.tickets.doctor import diagnose
from yoi.tools import IntentPacket
from yoi.tools.reports import (
    CommandRun,
    Finding,
    ImplementationReport,
    ReviewReport,
    Severity,
    Verdict,
)

PACKET = IntentPacket(
    intent=("Parse the config file",),
    binding_decisions=("No new dependency",),
    requirements=("A bad file is refused with a typed error",),
    validation=("pytest -q",),
    reviewer_focus=("Error messages",),
)
BLOCKED = DecisionRecord(
    Routing.BLOCKED,
    reason=("It depends on the parser ticket, which is not done.",),
    evidence=("Relations: depends_on the parser ticket",),
    next_action=("Wait for the parser ticket; a later pass starts it.",),
    escalate_if=("The dependency is wrong.",),
)
WAITING = DecisionRecord(
    Routing.WAITING_CAPACITY,
    reason=("Both slots are in use.",),
    evidence=("Runs in flight: 2 of 2",),
    next_action=("Start it when a slot frees.",),
)
ACCEPT = DecisionRecord(
    Routing.IMPLEMENTATION_READY,
    reason=("Nothing holds it and a slot is free.",),
    evidence=("Relations: none",),
    intent=PACKET,
)


@pytest.fixture
def store(tmp_path: Path) -> TicketStore:
    return new_store(tmp_path, Clock())


def _decisions(store: TicketStore, ticket: str) -> list[str]:
    events = store.get(ticket).events
    return [e.body for e in events if e.kind == EventKind.DECISION]


def test_three_passes_with_the_same_decision_write_one_event(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    other = make(store, State.QUEUED, "The parser")
    recorder = TicketRecorder(store)
    note = PlanNote(PlanKind.BLOCKED_BY, other, "depends on the parser")
    written = [recorder.decide(ticket, BLOCKED, (note,)) for _ in range(3)]
    assert written == [True, False, False]
    assert [parse_decision(body) for body in _decisions(store, ticket)] == [BLOCKED]
    assert [(p.kind, p.related_ticket) for p in store.plans(ticket_id=ticket)] == [
        (PlanKind.BLOCKED_BY, other)
    ]


def test_a_changed_decision_is_written_again(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    recorder = TicketRecorder(store)
    assert recorder.decide(ticket, BLOCKED)
    waiting_note = PlanNote(PlanKind.WAITING_CAPACITY_NOTE, note="both slots are in use")
    assert recorder.decide(ticket, WAITING, (waiting_note,))
    assert not recorder.decide(ticket, WAITING, (waiting_note,))
    assert recorder.decide(ticket, BLOCKED)
    assert [parse_decision(b).routing for b in _decisions(store, ticket)] == [
        Routing.BLOCKED,
        Routing.WAITING_CAPACITY,
        Routing.BLOCKED,
    ]
    assert [p.kind for p in store.plans(ticket_id=ticket)] == [PlanKind.WAITING_CAPACITY_NOTE]


def test_new_evidence_alone_is_no_new_decision(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    recorder = TicketRecorder(store)
    recorder.decide(ticket, BLOCKED)
    same = DecisionRecord(BLOCKED.routing, BLOCKED.reason, evidence=("Queue: 3 tickets",))
    assert not recorder.decide(ticket, same)
    changed = DecisionRecord(BLOCKED.routing, ("It also blocks on the lexer.",))
    assert recorder.decide(ticket, changed)


def test_queuing_again_makes_the_same_decision_new(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    recorder = TicketRecorder(store)
    recorder.decide(ticket, BLOCKED)
    store.move(ticket, State.PLANNING, author="hare")
    store.move(ticket, State.READY, author="hare")
    store.move(ticket, State.QUEUED, author="hare")
    assert recorder.decide(ticket, BLOCKED)
    assert len(_decisions(store, ticket)) == 2


def test_an_acceptance_records_plan_then_decision_then_move(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    recorder = TicketRecorder(store)
    ready = DecisionRecord(Routing.IMPLEMENTATION_READY, ACCEPT.reason)
    assert recorder.decide(ticket, ready)
    plan = AcceptedPlan("Parse the config", f"work/{ticket}-config", Path(".worktree/x"))
    meta = recorder.accept(ticket, ACCEPT, plan)
    assert meta.state is State.INPROGRESS
    detail = store.get(ticket)
    assert parse_decision(_decisions(store, ticket)[-1]) == ACCEPT
    moved = detail.events[-1]
    assert (moved.kind, moved.attr("reason")) == ("state_changed", "orchestrator_acceptance")
    assert detail.plans[-1].kind is PlanKind.ACCEPTED_PLAN
    assert detail.plans[-1].accepted_plan == {
        "summary": "Parse the config",
        "branch": f"work/{ticket}-config",
        "worktree": ".worktree/x",
    }
    # repeated after a crash: nothing is written twice
    assert recorder.accept(ticket, ACCEPT, plan).state is State.INPROGRESS
    assert store.get(ticket).events == detail.events
    assert store.get(ticket).plans == detail.plans


def test_an_acceptance_cut_short_after_its_plan_finishes_without_a_second_plan(
    store: TicketStore,
) -> None:
    ticket = make(store, State.QUEUED)
    plan = AcceptedPlan("Parse the config", "work/x", Path(".worktree/x"))
    fields = {"summary": "Parse the config", "branch": "work/x", "worktree": ".worktree/x"}
    store.add_plan(ticket, PlanKind.ACCEPTED_PLAN, author="orchestrator", accepted_plan=fields)
    TicketRecorder(store).accept(ticket, ACCEPT, plan)
    assert [p.kind for p in store.plans(ticket_id=ticket)] == [PlanKind.ACCEPTED_PLAN]
    assert len(_decisions(store, ticket)) == 1


def test_a_ticket_not_ready_returns_to_planning(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    decision = DecisionRecord(
        Routing.RETURN_TO_PLANNING,
        reason=("The intake worker found it not ready: the transport is undecided.",),
        next_action=("A person decides the transport, then queues it again.",),
    )
    meta = TicketRecorder(store).return_to_planning(ticket, decision)
    assert meta.state is State.PLANNING
    assert store.get(ticket).events[-1].attr("reason") == "intake_not_implementation_ready"
    with pytest.raises(InvalidRequest):
        TicketRecorder(store).return_to_planning(ticket, BLOCKED)


def test_an_acceptance_needs_a_packet(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    ready = DecisionRecord(Routing.IMPLEMENTATION_READY, ("ready",))
    with pytest.raises(InvalidRequest, match="packet"):
        TicketRecorder(store).accept(ticket, ready, AcceptedPlan("s", "b", Path("w")))
    assert store.get(ticket).meta.state is State.QUEUED


def test_a_whole_run_reads_back_and_the_doctor_finds_nothing(store: TicketStore) -> None:
    ticket = make(store, State.QUEUED)
    other = make(store, State.QUEUED, "The parser")
    recorder = TicketRecorder(store)
    recorder.decide(ticket, BLOCKED, (PlanNote(PlanKind.BLOCKED_BY, other, "waits"),))
    worktree = Path(f".worktree/{ticket}-config")
    recorder.accept(ticket, ACCEPT, AcceptedPlan("Parse it", f"work/{ticket}", worktree))
    recorder.kickoff(ticket, Kickoff(worktree, f"work/{ticket}", "a" * 40, "yoi-coder-x"))
    facts = BranchFacts(
        base="a" * 40,
        head="b" * 40,
        commits=(Commit("b" * 40, "Parse the config"),),
        changes=(FileChange("src/config.py", 40, 2),),
        dirty=(),
    )
    report = ImplementationReport("Done.", ("src/config.py",), (CommandRun("pytest -q", 0),))
    assert recorder.implementation(ticket, report, facts).believed
    review = ReviewReport(
        Verdict.APPROVE, "Good.", (Finding(Severity.NOTE, "src/config.py", "a typo", 3),)
    )
    recorder.review(ticket, review, commit="b" * 40, reviewer="yoi-reviewer-x", round_=1)
    merge = Commit("c" * 40, f"merge: {ticket} config")
    green = ValidationRun("pytest -q", 0, 1.5, "validation-1.log")
    integration = IntegrationReport(
        f"work/{ticket}", "orchestration", merge, "b" * 40, facts.commits, (green,)
    )
    recorder.integration(ticket, integration)
    recorder.cleanup(ticket, Cleanup(("yoi-coder-x", "yoi-reviewer-x"), (worktree,), ("w",)))

    detail = store.get(ticket)
    assert detail.problems == ()
    assert detail.meta.state is State.DONE
    kinds = [(e.kind, e.heading) for e in detail.events if e.author == "orchestrator"]
    assert kinds == [
        ("decision", "Decision"),
        ("decision", "Decision"),
        ("state_changed", "State changed"),
        ("implementation_report", "Implementation report"),
        ("implementation_report", "Implementation report"),
        ("review", "Review: approve"),
        ("implementation_report", "Implementation report"),
        ("state_changed", "State changed"),
        ("implementation_report", "Implementation report"),
    ]
    review_event = next(e for e in detail.events if e.kind == "review")
    assert review_event.attr("status") == ReviewStatus.APPROVE.value
    done = detail.events[-2]
    assert (done.attr("from"), done.attr("to"), done.attr("reason")) == (
        "inprogress",
        "done",
        "merged_reviewed_validated",
    )
    assert diagnose(store.root).findings == ()


def test_a_red_validation_leaves_the_ticket_in_progress(store: TicketStore) -> None:
    ticket = make(store, State.INPROGRESS)
    red = ValidationRun("pytest -q", 1, 2.0, "validation-1.log")
    merge = Commit("c" * 40, "merge")
    integration = IntegrationReport("work/x", "orchestration", merge, "b" * 40, (), (red,))
    assert TicketRecorder(store).integration(ticket, integration) is None
    detail = store.get(ticket)
    assert detail.meta.state is State.INPROGRESS
    assert "the merge is undone" in detail.events[-1].body
