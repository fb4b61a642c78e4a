"""The inputs the orchestrator sends its workers: plain text a model reads, with a first line
code can read back.

Every input begins ``[yoi-orchestrator <kind> <TICKET_ID> op=<operation id>]``. The kind says
what is asked (``intake``, ``implement``, ``fix``, ``review``); the operation id lets the
orchestrator find, after a restart, whether it already sent this very input (it looks for
the line in the worker's transcript) instead of sending it twice. A ``fix`` input says why
the work came back on its second line, ``Why: <review|claims|no_report|conflict|validation>``.
The ticket's own text is quoted whole under ``## Ticket``.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from yoi.tools.intent import IntentPacket

__all__ = [
    "FixReason",
    "InputKind",
    "fix_input",
    "header",
    "implement_input",
    "intake_input",
    "review_input",
]


class InputKind(StrEnum):
    INTAKE = "intake"
    IMPLEMENT = "implement"
    FIX = "fix"
    REVIEW = "review"


class FixReason(StrEnum):
    REVIEW = "review"
    CLAIMS = "claims"
    NO_REPORT = "no_report"
    CONFLICT = "conflict"
    VALIDATION = "validation"


def header(kind: InputKind, ticket_id: str, op_id: str) -> str:
    """The first line of an input: what code looks for in a transcript after a restart."""
    return f"[yoi-orchestrator {kind} {ticket_id} op={op_id}]"


def intake_input(ticket_id: str, title: str, body: str, op_id: str) -> str:
    return "\n".join(
        [
            header(InputKind.INTAKE, ticket_id, op_id),
            f"Read ticket {ticket_id} ({title}), its relations and plan records with your "
            "ticket tools, then answer with submit_intent: the IntentPacket a coder works from, "
            "or implementation_ready=false with the reason it is not ready.",
            "",
            *_ticket(ticket_id, title, body),
        ]
    )


def implement_input(
    ticket_id: str, title: str, body: str, intent: IntentPacket, branch: str, op_id: str
) -> str:
    return "\n".join(
        [
            header(InputKind.IMPLEMENT, ticket_id, op_id),
            f"Implement ticket {ticket_id} in your workdir, on branch {branch}. Commit your work "
            "with git_commit (uncommitted changes are not merged), then end with submit_report: "
            "a summary, the files you changed and the commands you ran.",
            "",
            *_intent(intent),
            *_ticket(ticket_id, title, body),
        ]
    )


def fix_input(ticket_id: str, why: FixReason, details: Sequence[str], op_id: str) -> str:
    return "\n".join(
        [
            header(InputKind.FIX, ticket_id, op_id),
            f"Why: {why}",
            _FIX_ASK[why],
            "",
            *(f"- {line}" for line in details),
            "",
            "Commit the fix with git_commit, then end with submit_report again.",
        ]
    )


def review_input(
    ticket_id: str, title: str, body: str, intent: IntentPacket, commit: str, base: str, op_id: str
) -> str:
    return "\n".join(
        [
            header(InputKind.REVIEW, ticket_id, op_id),
            f"Review commit {commit} of ticket {ticket_id} against its recorded intent: the "
            f"changes are those of {base}..{commit} in your workdir (read-only). End with "
            "submit_review: approve, or request_changes with findings by severity.",
            "",
            *_intent(intent),
            *_ticket(ticket_id, title, body),
        ]
    )


_FIX_ASK = {
    FixReason.REVIEW: "The reviewer asked for changes; address every finding below.",
    FixReason.CLAIMS: "Your report claims work your branch does not hold; make it true.",
    FixReason.NO_REPORT: "Your run ended without submit_report; finish the work and report it.",
    FixReason.CONFLICT: (
        "Your branch conflicts with the integration branch, which is now merged into your "
        "workdir with conflict markers in the paths below; resolve them and commit."
    ),
    FixReason.VALIDATION: "Validation failed on the merged tree; the failing command and its log:",
}


def _intent(intent: IntentPacket) -> list[str]:
    lines = ["## Intent packet"]
    for title, items in intent.sections():
        lines.append(f"{title}:")
        lines.extend(f"- {item}" for item in items)
    return [*lines, ""]


def _ticket(ticket_id: str, title: str, body: str) -> list[str]:
    return ["## Ticket", f"{ticket_id}: {title}", "", body.strip()]
