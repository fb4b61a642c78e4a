"""``submit_intent``: an intake worker's answer, the IntentPacket a coder and a reviewer work to.

The seven sections are those the original yoi's orchestrator wrote on every accepted
ticket (Intent; Binding decisions / invariants; Requirements / acceptance criteria;
Implementation latitude; Escalate if; Validation; Critical risks / reviewer focus), each
a list of one-line items, as the original wrote them. The worker also says whether the
ticket is implementation-ready; when it is not, it says why (on one line too), and the
ticket goes back to planning.

Items are stripped, and refused when they hold a line break or another control
character: rendered as Markdown bullets on a ticket, no item can then pose as a heading
or as another section, and every packet reads back from the ticket exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from yoi.engine.tool import ToolResult
from yoi.errors import InvalidRequest
from yoi.tools import _report_fields as read

__all__ = [
    "MAX_INTENT_ITEM",
    "MAX_SECTION_ITEMS",
    "SECTION_TITLES",
    "IntakeReport",
    "IntentPacket",
    "SubmitIntent",
    "intake_json",
    "intake_report",
    "intent_item",
]

MAX_INTENT_ITEM = 2_000
MAX_SECTION_ITEMS = 50
MAX_NOT_READY_REASON = 4_000


@dataclass(frozen=True, slots=True)
class IntentPacket:
    """What the work is for and what binds it; every section a tuple of one-line items."""

    intent: tuple[str, ...] = ()
    binding_decisions: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    implementation_latitude: tuple[str, ...] = ()
    escalate_if: tuple[str, ...] = ()
    validation: tuple[str, ...] = ()
    reviewer_focus: tuple[str, ...] = ()

    def sections(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each section's title as tickets write it, with its items, in the original order."""
        return tuple((SECTION_TITLES[f.name], getattr(self, f.name)) for f in fields(self))


SECTION_TITLES: Final = {
    "intent": "Intent",
    "binding_decisions": "Binding decisions / invariants",
    "requirements": "Requirements / acceptance criteria",
    "implementation_latitude": "Implementation latitude",
    "escalate_if": "Escalate if",
    "validation": "Validation",
    "reviewer_focus": "Critical risks / reviewer focus",
}
"""The field of each section, and its title on a ticket."""

# A ready packet says at least what the work is for and how it is accepted.
_NEEDED_WHEN_READY = ("intent", "requirements")


@dataclass(frozen=True, slots=True)
class IntakeReport:
    """An intake worker's answer: ready with its packet, or not ready and why."""

    implementation_ready: bool
    packet: IntentPacket
    not_ready_reason: str | None = None


def _items() -> dict[str, object]:
    item = {"type": "string", "minLength": 1, "maxLength": MAX_INTENT_ITEM}
    return {"type": "array", "items": item, "maxItems": MAX_SECTION_ITEMS}


INTENT_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "implementation_ready": {"type": "boolean"},
        "not_ready_reason": {"type": "string", "minLength": 1, "maxLength": MAX_NOT_READY_REASON},
        **{name: _items() for name in SECTION_TITLES},
    },
    "required": ["implementation_ready", *SECTION_TITLES],
    "additionalProperties": False,
}


class SubmitIntent:
    """An intake worker's IntentPacket, or its reason the ticket is not ready."""

    name = "submit_intent"
    description = (
        "Submit the IntentPacket for this ticket. Each section is a list of one-line items: "
        "intent (what the work is for), binding_decisions (decisions and invariants the coder "
        "must keep), requirements (acceptance criteria), implementation_latitude (what the "
        "coder may choose), escalate_if (when to stop and ask), validation (commands and "
        "checks), reviewer_focus (critical risks for the reviewer). Set implementation_ready "
        "to true when a coder can start now (intent and requirements then need an item each); "
        "else false with not_ready_reason, and the ticket returns to planning. Changes nothing."
    )
    parameters: Mapping[str, object] = INTENT_SCHEMA

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            report = intake_report(arguments)
        except InvalidRequest as error:
            return ToolResult(f"intent refused: {error.message}", is_error=True)
        if report.implementation_ready:
            count = sum(len(items) for _, items in report.packet.sections())
            summary = f"intent recorded: implementation ready, {count} items"
        else:
            summary = "intent recorded: not implementation ready"
        return ToolResult(summary, intake_json(report))


def intake_report(arguments: Mapping[str, object]) -> IntakeReport:
    """The validated answer, or :class:`InvalidRequest` saying what is wrong."""
    given = read.fields(
        arguments,
        required={"implementation_ready", *SECTION_TITLES},
        optional={"not_ready_reason"},
    )
    ready = read.boolean(given["implementation_ready"], "implementation_ready")
    packet = IntentPacket(**{name: _section(given[name], name) for name in SECTION_TITLES})
    reason = given.get("not_ready_reason")
    report = IntakeReport(
        implementation_ready=ready,
        packet=packet,
        not_ready_reason=None
        if reason is None
        else _line(reason, "not_ready_reason", MAX_NOT_READY_REASON),
    )
    _check_readiness(report)
    read.within_bound(intake_json(report))
    return report


def intake_json(report: IntakeReport) -> str:
    """The canonical JSON of an answer: sorted keys, no spaces, an absent reason left out."""
    plain: dict[str, object] = {"implementation_ready": report.implementation_ready}
    plain.update({name: list(getattr(report.packet, name)) for name in SECTION_TITLES})
    if report.not_ready_reason is not None:
        plain["not_ready_reason"] = report.not_ready_reason
    return read.canonical_json(plain)


def intent_item(value: object, where: str) -> str:
    """One item of a section: text on one line, stripped, not empty, bounded."""
    return _line(value, where, MAX_INTENT_ITEM)


def _line(value: object, where: str, limit: int) -> str:
    text = read.string(value, where, limit).strip()
    if any(_control(char) for char in text):
        raise InvalidRequest(f"{where} must be one line of text (no line breaks or controls)")
    return text


def _section(value: object, name: str) -> tuple[str, ...]:
    items = read.array(value, name, MAX_SECTION_ITEMS)
    return tuple(intent_item(item, f"{name}[{index}]") for index, item in enumerate(items))


def _check_readiness(report: IntakeReport) -> None:
    if not report.implementation_ready:
        if report.not_ready_reason is None:
            raise InvalidRequest("a ticket that is not implementation ready needs not_ready_reason")
        return
    if report.not_ready_reason is not None:
        raise InvalidRequest("not_ready_reason belongs only to implementation_ready false")
    empty = [name for name in _NEEDED_WHEN_READY if not getattr(report.packet, name)]
    if empty:
        raise InvalidRequest(f"an implementation-ready packet needs items in: {', '.join(empty)}")


def _control(char: str) -> bool:
    """A C0 or C1 control, DEL, or a Unicode line or paragraph separator."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or char in "\u2028\u2029"
