"""What a person reads at a gate: the plan the intake made, or a merge-ready dossier.

Each renderer is a pure function from typed values to the Markdown body written on the
ticket (and shown by the board and ``yoi orchestrator status``). A merge dossier has the
sections a person needs to approve a merge without opening anything else: status, scope,
intent check, implementation summary, review, validation and residual risk. What a model
wrote is quoted; names, paths and commands are code spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yoi.orchestrator.branch_facts import BranchFacts
from yoi.orchestrator.records_markdown import code, labelled, quoted, shown
from yoi.tools.intent import IntentPacket

__all__ = ["GateDecision", "MergeDossier", "render_decision", "render_merge", "render_plan"]

_MOST_FILES = 30
_ASK = "Approve or reject it on the board, with `yoi orchestrator approve|reject {ticket}`"


@dataclass(frozen=True, slots=True)
class GateDecision:
    gate: str
    decision: str
    """``approve`` or ``reject``."""
    by: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MergeDossier:
    ticket_id: str
    title: str
    branch: str
    commit: str
    base: str
    attempt: int
    review_rounds: int
    fix_rounds: int
    facts: BranchFacts
    packet: IntentPacket
    summary: str | None
    """The coder's summary of its last report, when recorded."""
    reported: tuple[str, ...]
    """The commands the coder reported running, with their outcomes."""
    review: str | None
    """The approving reviewer's summary."""
    findings: tuple[str, ...]
    """The findings the approval came with (none block: it approved)."""
    validation: tuple[str, ...]
    """The commands that validate the merged tree before the branch moves."""


def render_plan(ticket_id: str, branch: str, packet: IntentPacket) -> str:
    parts = [
        f"Awaiting plan approval: {code(ticket_id)} on {code(branch)}",
        "The intake's IntentPacket is below. A coder starts only once a person approves it; "
        "edit the ticket first to change what the coder reads, or reject it to send the "
        "ticket back to planning.",
    ]
    parts += [labelled(title, map(shown, items)) for title, items in packet.sections() if items]
    parts.append(_ASK.format(ticket=ticket_id) + ".")
    return "\n\n".join(parts)


def render_merge(dossier: MergeDossier) -> str:
    d = dossier
    facts = d.facts
    status = [
        f"ticket {code(d.ticket_id)}: {shown(d.title)}",
        f"branch {code(d.branch)} at {code(d.commit[:12])}, from {code(d.base[:12])}",
        f"attempt {d.attempt}, {d.review_rounds} review round(s), {d.fix_rounds} fix round(s)",
        "the reviewer approved this exact commit",
    ]
    scope = [f"{len(facts.commits)} commit(s), {len(facts.changes)} file(s) changed"]
    scope += [_change(c.path, c.added, c.deleted) for c in facts.changes[:_MOST_FILES]]
    if len(facts.changes) > _MOST_FILES or not facts.complete:
        scope.append("… and more (see the branch)")
    risk = [f"escalate if: {shown(item)}" for item in d.packet.escalate_if]
    risk += [shown(finding) for finding in d.findings] or ["the reviewer left no finding"]
    parts = [
        f"Awaiting merge approval: {code(d.ticket_id)} is ready to merge",
        labelled("Status", status),
        labelled("Scope", scope),
        labelled("Intent check", _intent(d.packet)),
        _quoted_section("Implementation summary", d.summary, d.reported),
        _quoted_section("Review", d.review, ()),
        labelled("Validation", _validation(d.validation)),
        labelled("Residual risk", risk),
        _ASK.format(ticket=d.ticket_id)
        + "; approving merges it, validates the merged tree and moves the branch.",
    ]
    return "\n\n".join(parts)


def render_decision(ticket_id: str, decision: GateDecision) -> str:
    verb = "approved" if decision.decision == "approve" else "rejected"
    lines = [f"{decision.gate.capitalize()} gate {verb} by {shown(decision.by)}: {code(ticket_id)}"]
    if decision.note:
        lines.append(f"Note:\n\n{quoted(decision.note)}")
    if decision.decision == "reject":
        kept = "the ticket is back in planning; its worktree is kept"
        lines.append(labelled("Next action", [kept]))
    return "\n\n".join(lines)


def _quoted_section(label: str, text: str | None, items: Sequence[str]) -> str:
    body = quoted(text) if text else "> (not recorded)"
    listed = "\n".join(f"- {shown(item)}" for item in items)
    return f"{label}:\n\n{body}" + (f"\n\n{listed}" if listed else "")


def _validation(commands: tuple[str, ...]) -> list[str]:
    if not commands:
        return ["no validation command is configured: the merge is checked by review alone"]
    return [f"{code(c)} runs on the merged tree before the branch moves" for c in commands]


def _intent(packet: IntentPacket) -> list[str]:
    lines = [shown(line) for line in (*packet.intent, *packet.requirements)]
    return lines or ["(the intake recorded no intent)"]


def _change(path: str, added: int | None, deleted: int | None) -> str:
    if added is None or deleted is None:
        return f"{code(path)} (binary)"
    return f"{code(path)} +{added} -{deleted}"
