"""What the orchestrator screen shows, read from the backend's answers (no widgets here).

``GET /api/orchestrator`` (and the stream's snapshot) gives runs with their phase, usage
and gate, queued tickets with the sentence that says why they wait, and problems; a stream
transition says what moved. The one choice made here is presentation, as the web console
makes it: Stop is offered on a run that is not over, Retry on a stopped or failed one,
Approve and Reject on a run at a gate; the backend decides whether each is allowed and says
why not. :func:`resume_after` is the stream's reconnect rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from yoi.client.orchestrator_events import RunTransition
from yoi.errors import CursorExpired, InvalidCursor, UnsupportedOperation, YoiError

__all__ = [
    "Action",
    "Resume",
    "RunRow",
    "StatusView",
    "WaitingRow",
    "cost_text",
    "explanation_lines",
    "humanize",
    "phase_text",
    "read_status",
    "resume_after",
    "row_of",
    "tokens_text",
    "transition_text",
]

OFF = "The orchestrator is off: queued tickets are not started."
_RETRIABLE = frozenset({"stopped", "failed"})
_RETRY_SECONDS = 1.0


class Action(StrEnum):
    STOP = "stop"
    RETRY = "retry"
    APPROVE = "approve"
    REJECT = "reject"


def humanize(name: str) -> str:
    """``awaiting_plan_approval`` as people read it: ``awaiting plan approval``."""
    return name.replace("_", " ")


def cost_text(cost: object) -> str:
    """``$0.0123`` below a cent, ``$1.25`` above; ``cost unknown`` when the backend knows
    no price."""
    if not isinstance(cost, int | float):
        return "cost unknown"
    digits = 4 if cost != 0 and abs(cost) < 0.01 else 2
    return f"${cost:.{digits}f}"


def tokens_text(usage: Mapping[str, Any]) -> str:
    """``1,234 in · 56 out`` (and ``· 10 cached`` when there are any)."""
    parts = [f"{_count(usage, 'input_tokens'):,} in", f"{_count(usage, 'output_tokens'):,} out"]
    if cached := _count(usage, "cached_tokens"):
        parts.append(f"{cached:,} cached")
    return " · ".join(parts)


def phase_text(run: Mapping[str, Any]) -> str:
    """``reviewing · round 2``, ``stopped: stopped_by_person``, ``cleaning up``."""
    phase = str(run.get("phase", ""))
    if phase == "reviewing":
        return f"reviewing · round {run.get('review_round', 1)}"
    if phase in _RETRIABLE and run.get("stop_reason"):
        return f"{phase}: {run['stop_reason']}"
    return humanize(phase)


@dataclass(frozen=True, slots=True)
class RunRow:
    ticket_id: str
    title: str
    phase: str
    attempt: int
    workers: str
    tokens: str
    cost: str
    waiting: str
    """Why the run is not running (its gate, a stall), empty when it is."""
    gate: str | None
    actions: frozenset[Action]

    @classmethod
    def read(cls, run: Mapping[str, Any]) -> RunRow:
        usage = run.get("usage") or {}
        latest = usage.get("run") or {}
        return cls(
            ticket_id=str(run["ticket_id"]),
            title=str(run.get("title", "")),
            phase=phase_text(run),
            attempt=int(run.get("attempt", 1)),
            workers=_workers(run),
            tokens=tokens_text(latest),
            cost=cost_text(latest.get("cost_usd")),
            waiting=_waiting(run),
            gate=_gate(run),
            actions=_actions(run),
        )


@dataclass(frozen=True, slots=True)
class WaitingRow:
    ticket_id: str
    title: str
    sentence: str


@dataclass(frozen=True, slots=True)
class StatusView:
    """The status as the screen draws it: ``notes`` say why no work starts (off, problems)."""

    notes: tuple[str, ...]
    summary: str
    runs: tuple[RunRow, ...]
    waiting: tuple[WaitingRow, ...]


def read_status(status: Mapping[str, Any], *, off_reason: str | None = None) -> StatusView:
    """``status`` as ``GET /api/orchestrator`` answers it; ``off_reason`` is what the backend
    said when it refused the stream."""
    notes = [f"{p['code']}: {p['message']}" for p in status.get("problems", ())]
    if not status.get("enabled", False):
        notes.insert(0, OFF if off_reason is None else f"{OFF} ({off_reason})")
    ready = "ready" if status.get("ready") else "not ready"
    summary = (
        f"{'on' if status.get('enabled') else 'off'} · {ready} · "
        f"into {status.get('target_branch', '?')} · {status.get('max_parallel', '?')} at once"
    )
    return StatusView(
        notes=tuple(notes),
        summary=summary,
        runs=tuple(RunRow.read(run) for run in status.get("runs", ())),
        waiting=tuple(
            WaitingRow(str(w["ticket_id"]), str(w.get("title", "")), str(w.get("sentence", "")))
            for w in status.get("waiting", ())
        ),
    )


def transition_text(transition: RunTransition) -> str:
    """One line of the event log: ``T1 #1 implementing → reviewing``, ``T1 #1 → accepting``
    (a new run), ``T1 #1 plan gate open``."""
    head = f"{transition.ticket_id} #{transition.attempt}"
    if transition.kind == "gate":
        line = f"{head} {transition.gate or '?'} gate {transition.to}"
    else:
        came = "" if transition.from_phase is None else f"{humanize(transition.from_phase)} "
        line = f"{head} {came}→ {humanize(transition.to)}"
    return line if transition.reason is None else f"{line} ({humanize(transition.reason)})"


def explanation_lines(explained: Mapping[str, Any]) -> tuple[str, ...]:
    """``GET /api/tickets/{id}/explain`` for people: the sentence, each reason, the next
    action when the policy gives one."""
    lines = [f"{explained.get('ticket_id', '?')}: {explained.get('sentence', '')}"]
    for reason in explained.get("reasons", ()):
        named = f" {reason['ticket_id']}" if reason.get("ticket_id") else ""
        state = f" ({humanize(reason['state'])})" if reason.get("state") else ""
        lines.append(f"• {humanize(str(reason.get('code', '')))}{named}{state}")
    decision = explained.get("decision") or {}
    if decision.get("next_action"):
        lines.append(f"Next: {decision['next_action']}")
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class Resume:
    """How the stream goes on after an error: from ``cursor`` (None: a fresh snapshot),
    after ``delay`` seconds."""

    cursor: str | None
    delay: float


def resume_after(error: YoiError, cursor: str | None) -> Resume | None:
    """After ``cursor_expired`` or ``invalid_cursor``, resync from a snapshot at once; after
    a cut or ``slow_consumer``, resume by the cursor; a backend with no orchestrator (None)
    has no stream to follow."""
    if isinstance(error, UnsupportedOperation):
        return None
    if isinstance(error, CursorExpired | InvalidCursor):
        return Resume(None, 0.0)
    return Resume(cursor, _RETRY_SECONDS)


def _count(usage: Mapping[str, Any], name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) else 0


def _workers(run: Mapping[str, Any]) -> str:
    named = [
        f"{role} {worker['worker_id']}"
        for role in ("coder", "reviewer")
        if isinstance(worker := run.get(role), Mapping)
    ]
    return ", ".join(named) or "none"


def _gate(run: Mapping[str, Any]) -> str | None:
    gate = run.get("gate")
    return str(gate["gate"]) if isinstance(gate, Mapping) and gate.get("gate") else None


def _waiting(run: Mapping[str, Any]) -> str:
    reason = run.get("reason")
    if not isinstance(reason, str) or reason == run.get("stop_reason"):
        return ""
    return humanize(reason)


def _actions(run: Mapping[str, Any]) -> frozenset[Action]:
    found: set[Action] = set()
    if _gate(run) is not None:
        found |= {Action.APPROVE, Action.REJECT}
    if not run.get("over", False):
        found.add(Action.STOP)
    elif run.get("phase") in _RETRIABLE:
        found.add(Action.RETRY)
    return frozenset(found)


def row_of(rows: Sequence[RunRow], ticket_id: str | None) -> RunRow | None:
    """The row of ``ticket_id`` among ``rows``, if it is there."""
    return next((row for row in rows if row.ticket_id == ticket_id), None)
