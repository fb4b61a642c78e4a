"""What the ticket screen says, from the ticket's detail, its explanation and its run.

No widget here: the screen draws these texts and offers the actions the
backend lists (:class:`~yoi.client.tickets.Action`) and the run's commands
(:func:`run_commands`), which follow the run's phase and gate as the backend
reports them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from yoi.client.tickets import Action
from yoi.tui.board_view import phase_text, usage_text

__all__ = [
    "RunCommand",
    "action_note",
    "find_run",
    "head_text",
    "meta_text",
    "run_commands",
    "run_text",
    "sections_text",
    "thread_markdown",
]

RETRIABLE = ("stopped", "failed")
"""The phases of a run that ``retry`` starts again (the orchestrator's rule, as the web
console reads it)."""


@dataclass(frozen=True, slots=True)
class RunCommand:
    """A command on the ticket's run: ``approve``/``reject`` its gate, ``stop``, ``retry``."""

    verb: str
    label: str
    gate: str | None = None


def head_text(ticket: Mapping[str, Any]) -> Text:
    meta = ticket["meta"]
    text = Text(f"{ticket['id']}  ", style="dim")
    text.append(f" {str(meta['state']).replace('_', ' ')} ", style="reverse")
    text.append(f"  {meta['title']}", style="bold")
    return text


def meta_text(meta: Mapping[str, Any]) -> str:
    rows = [("Created", meta.get("created_at")), ("Updated", meta.get("updated_at"))]
    if meta.get("queued_by"):
        rows.append(("Queued by", f"{meta['queued_by']} · {meta.get('queued_at') or ''}"))
    for key in ("assignee", "priority", "readiness"):
        if meta.get(key):
            rows.append((key.capitalize(), meta[key]))
    if meta.get("risk_flags"):
        rows.append(("Risk flags", ", ".join(meta["risk_flags"])))
    return "\n".join(f"{name}: {value}" for name, value in rows)


def action_note(action: Action) -> str | None:
    """Why an action is blocked, or whom it will wait for, with the tickets named."""
    if not action.reason:
        return None
    return f"{action.label}: {action.reason}"


def sections_text(ticket: Mapping[str, Any]) -> Text:
    """Problems, resolution, blockers, notices, relations, plan records and artifacts; a
    section with nothing to show is left out."""
    text = Text()
    _section(text, "Problems", [str(problem) for problem in ticket.get("problems", ())])
    resolution = ticket.get("resolution")
    _section(text, "Resolution", [resolution] if resolution else [])
    _section(text, "Blockers", [_blocker(item) for item in ticket.get("blockers", ())])
    _section(text, "Notices", [str(item["message"]) for item in ticket.get("notices", ())])
    _section(text, "Relations", _relations(ticket.get("relations") or {}))
    _section(text, "Plan records", [_plan(item) for item in ticket.get("plans", ())])
    _section(text, "Artifacts", [str(name) for name in ticket.get("artifacts", ())])
    return text


def _section(text: Text, heading: str, lines: Sequence[str]) -> None:
    if not lines:
        return
    if text:
        text.append("\n")
    text.append(f"{heading}\n", style="bold underline")
    for line in lines:
        text.append(f"  {line}\n")


def _blocker(blocker: Mapping[str, Any]) -> str:
    return f"{blocker['ticket_id']} ({_words(blocker['state'])}) via {_words(blocker['via'])}"


def _relations(relations: Mapping[str, Any]) -> list[str]:
    lines = [
        f"{_words(item['kind'])} → {item['target']}{_note(item.get('note'))}"
        for item in relations.get("outgoing", ())
    ]
    lines += [
        f"{_words(item['kind'])} ← {item['ticket_id']}{_note(item.get('note'))}"
        for item in relations.get("incoming", ())
    ]
    return lines


def _plan(record: Mapping[str, Any]) -> str:
    related = f" {record['related_ticket']}" if record.get("related_ticket") else ""
    note = f" {record['note']}" if record.get("note") else ""
    return f"[{_words(record['kind'])}]{related}{note} — {record['author']}, {record['at']}"


def thread_markdown(events: Sequence[Mapping[str, Any]]) -> str:
    """The thread as Markdown: a heading per event (what, who, when), then its body."""
    if not events:
        return "_No events yet._"
    parts = []
    for event in events:
        heading = event.get("heading") or _words(event["kind"])
        parts.append(f"#### {heading} — {event['author']}, {event['at']}\n\n{event['body']}")
    return "\n\n".join(parts)


def find_run(status: Mapping[str, Any], ticket_id: str) -> Mapping[str, Any] | None:
    """The ticket's run in the orchestrator's status, if it has one."""
    for run in status.get("runs", ()):
        if run.get("ticket_id") == ticket_id:
            found: Mapping[str, Any] = run
            return found
    return None


def run_text(run: Mapping[str, Any] | None, explained: Mapping[str, Any] | None) -> Text:
    """Why the ticket waits (the backend's sentence), then its run: phase, facts, usage."""
    text = Text()
    if explained is not None:
        text.append(f"{explained.get('sentence', '')}\n", style="italic")
        decision = explained.get("decision") or {}
        if decision.get("next_action"):
            text.append(f"Next: {decision['next_action']}\n", style="dim")
    if run is None:
        return text
    text.append(f"Phase: {phase_text(run)}", style="cyan")
    gate = run.get("gate")
    if isinstance(gate, Mapping):
        text.append(f"  waiting at gate {gate.get('gate')}", style="magenta")
    text.append(f"\nAttempt {run.get('attempt')}")
    if run.get("branch"):
        text.append(f" · branch {run['branch']}")
    if run.get("fix_rounds"):
        text.append(f" · fix rounds {run['fix_rounds']}")
    usage = run.get("usage")
    if isinstance(usage, Mapping) and isinstance(usage.get("run"), Mapping):
        text.append(f"\nUsage: {usage_text(usage['run'])}", style="dim")
    return text


def run_commands(run: Mapping[str, Any] | None) -> list[RunCommand]:
    """Approve and reject at a gate, then stop for a run in flight or retry for a stopped or
    failed one."""
    if run is None:
        return []
    commands = []
    gate = run.get("gate")
    if isinstance(gate, Mapping) and gate.get("gate"):
        name = str(gate["gate"])
        commands += [
            RunCommand("approve", f"Approve {name}", name),
            RunCommand("reject", f"Reject {name}", name),
        ]
    if not run.get("over"):
        commands.append(RunCommand("stop", "Stop run"))
    elif run.get("phase") in RETRIABLE:
        commands.append(RunCommand("retry", "Retry run"))
    return commands


def _words(value: object) -> str:
    return str(value).replace("_", " ")


def _note(note: object) -> str:
    return f" — {note}" if note else ""
