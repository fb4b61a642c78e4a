"""The orchestrator's ``decision`` event, in the original format, and when to write one.

A decision body reads as the original orchestrator wrote it::

    Routing decision: blocked_by_dependency_or_missing_authority

    Reason:
    - ...

    Evidence checked:
    - ...

    Next action:
    - ...

    Escalate if:
    - ...

and an acceptance adds ``IntentPacket:`` with the packet's seven sections. Sections
without items are left out. :func:`parse_decision` reads back exactly what
:func:`render_decision` wrote; :func:`read_decision` reads the class and reasons of any
decision, the original orchestrator's included.

A decision is written once per change of it: :func:`decision_changed` compares the new
one with the last written since the ticket was last queued (:func:`last_decision`), and
:func:`plans_pending` leaves out plan records already written for it, so a pass that
dies between the plan records and the decision does not write them twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from yoi.errors import InvalidRequest
from yoi.orchestrator.policy_decision import Decision, ReasonCode, Routing
from yoi.orchestrator.records_markdown import check_items, labelled, shown
from yoi.tickets.model import EventKind, PlanKind, PlanRecord, ThreadEvent
from yoi.tools.intent import SECTION_TITLES, IntentPacket

__all__ = [
    "DecisionRecord",
    "PlanNote",
    "RecordedDecision",
    "decision_changed",
    "decision_since",
    "last_decision",
    "notes_of",
    "parse_decision",
    "plans_pending",
    "read_decision",
    "record_of",
    "render_decision",
]

ROUTING_PREFIX: Final = "Routing decision:"
PACKET_LABEL: Final = "IntentPacket"
_LABELS: Final = {
    "reason": "Reason",
    "evidence": "Evidence checked",
    "next_action": "Next action",
    "escalate_if": "Escalate if",
}
_PACKET_FIELDS: Final = {title: name for name, title in SECTION_TITLES.items()}
_DECISION_FIELDS: Final = {label: name for name, label in _LABELS.items()}
_BLOCKING: Final = frozenset(
    {ReasonCode.DEPENDS_ON, ReasonCode.BLOCKS, ReasonCode.PLAN_BLOCKED_BY, ReasonCode.CYCLE}
)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One ``decision`` event; ``intent`` only on an acceptance (implementation_ready)."""

    routing: Routing
    reason: tuple[str, ...]
    evidence: tuple[str, ...] = ()
    next_action: tuple[str, ...] = ()
    escalate_if: tuple[str, ...] = ()
    intent: IntentPacket | None = None

    def __post_init__(self) -> None:
        if not self.reason:
            raise InvalidRequest("a decision needs a reason")
        for name in _LABELS:
            check_items(getattr(self, name), name)
        if self.intent is not None:
            if self.routing is not Routing.IMPLEMENTATION_READY:
                raise InvalidRequest("only an implementation_ready decision carries a packet")
            for title, items in self.intent.sections():
                check_items(items, title)


@dataclass(frozen=True, slots=True)
class RecordedDecision:
    """What a written decision says, as far as deciding whether to write again needs:
    its class as written (the original's may be free text) and its reasons."""

    routing: str
    reason: tuple[str, ...]
    has_packet: bool = False


@dataclass(frozen=True, slots=True)
class PlanNote:
    """A plan record to write with a decision."""

    kind: PlanKind
    related_ticket: str | None = None
    note: str | None = None
    accepted_plan: tuple[tuple[str, str], ...] = ()
    """An ``accepted_plan`` record's fields (summary, branch, worktree), in order."""

    @property
    def key(self) -> tuple[object, ...]:
        return (self.kind, self.related_ticket, self.note, tuple(sorted(self.accepted_plan)))


def render_decision(decision: DecisionRecord) -> str:
    parts = [f"{ROUTING_PREFIX} {decision.routing.value}"]
    parts += [
        labelled(label, getattr(decision, name))
        for name, label in _LABELS.items()
        if getattr(decision, name)
    ]
    if decision.intent is not None:
        parts.append(f"{PACKET_LABEL}:")
        parts += [labelled(title, items) for title, items in decision.intent.sections() if items]
    return "\n\n".join(parts)


def parse_decision(body: str) -> DecisionRecord:
    """The decision :func:`render_decision` wrote as ``body``; :class:`InvalidRequest` for
    any other text."""
    blocks = body.split("\n\n")
    head = blocks[0]
    if not head.startswith(f"{ROUTING_PREFIX} ") or "\n" in head:
        raise InvalidRequest("a decision starts with one 'Routing decision: <class>' line")
    try:
        routing = Routing(head.removeprefix(f"{ROUTING_PREFIX} "))
    except ValueError:
        raise InvalidRequest(f"{head!r} names no routing class of the orchestrator") from None
    decision: dict[str, tuple[str, ...]] = {}
    packet: dict[str, tuple[str, ...]] | None = None
    for block in blocks[1:]:
        if block == f"{PACKET_LABEL}:" and packet is None:
            packet = {}
            continue
        label, items = _section(block)
        known = _DECISION_FIELDS if packet is None else _PACKET_FIELDS
        target = decision if packet is None else packet
        name = known.get(label)
        if name is None or name in target:
            raise InvalidRequest(f"a decision has an unexpected section {label!r}")
        target[name] = items
    intent = None if packet is None else IntentPacket(**packet)
    return DecisionRecord(routing, **{**dict.fromkeys(_LABELS, ()), **decision}, intent=intent)


def _section(block: str) -> tuple[str, tuple[str, ...]]:
    label, *lines = block.split("\n")
    if not label.endswith(":") or not lines or not all(line.startswith("- ") for line in lines):
        raise InvalidRequest(f"a decision section is not 'Label:' and bullets: {block[:80]!r}")
    return label[:-1], tuple(line[2:] for line in lines)


def read_decision(body: str) -> RecordedDecision | None:
    """The class and reasons of a decision body, or ``None`` when it states no routing
    decision (a note like "Queue attention reviewed")."""
    lines = body.split("\n")
    found = next((i for i, line in enumerate(lines) if line.startswith(ROUTING_PREFIX)), None)
    if found is None:
        return None
    routing = lines[found].removeprefix(ROUTING_PREFIX).strip().rstrip("。.")
    reason: list[str] = []
    start = next((i for i in range(found, len(lines)) if lines[i] == "Reason:"), None)
    if start is not None:
        for line in lines[start + 1 :]:
            if not line.startswith("- "):
                break
            reason.append(line[2:])
    return RecordedDecision(routing, tuple(reason), f"{PACKET_LABEL}:" in lines[found:])


def last_decision(events: Sequence[ThreadEvent]) -> RecordedDecision | None:
    """The last routing decision written since the ticket was last queued."""
    last: RecordedDecision | None = None
    for event in events:
        if _queued(event):
            last = None
        elif event.kind == EventKind.DECISION:
            last = read_decision(event.body) or last
    return last


def decision_since(events: Sequence[ThreadEvent]) -> str | None:
    """When the standing decision was written (or, with none, when the ticket was queued):
    plan records from then on belong to it."""
    since: str | None = None
    for event in events:
        if _queued(event) or (event.kind == EventKind.DECISION and read_decision(event.body)):
            since = event.at
    return since


def _queued(event: ThreadEvent) -> bool:
    return event.kind == EventKind.STATE_CHANGED and event.attr("to") == "queued"


def decision_changed(last: RecordedDecision | None, new: DecisionRecord) -> bool:
    """Whether ``new`` says something the last written decision did not: its class, its
    reasons, or an IntentPacket the last one lacked (an acceptance after a decision that
    the ticket is ready). Evidence, next action and escalation alone make no new decision."""
    if last is None or (last.routing, last.reason) != (new.routing.value, new.reason):
        return True
    return new.intent is not None and not last.has_packet


def plans_pending(
    recorded: Sequence[PlanRecord], since: str | None, wanted: Sequence[PlanNote]
) -> tuple[PlanNote, ...]:
    """The notes of ``wanted`` not already among the records written from ``since`` on."""
    present = {_key(record) for record in recorded if since is not None and record.at >= since}
    pending: list[PlanNote] = []
    for note in wanted:
        if note.key not in present:
            present.add(note.key)
            pending.append(note)
    return tuple(pending)


def _key(record: PlanRecord) -> tuple[object, ...]:
    accepted = tuple(sorted((name, str(value)) for name, value in record.accepted_plan.items()))
    return (record.kind, record.related_ticket, record.note, accepted)


def record_of(decision: Decision) -> DecisionRecord:
    """The ``decision`` event of a policy decision (before any acceptance)."""
    return DecisionRecord(
        routing=decision.routing,
        reason=_items([decision.reason]),
        evidence=_items(decision.evidence),
        next_action=_items([decision.next_action]),
        escalate_if=_items([decision.escalate_if]),
    )


def notes_of(decision: Decision) -> tuple[PlanNote, ...]:
    """The plan records a policy decision implies: a ``blocked_by`` per ticket it waits for,
    or a ``waiting_capacity_note`` saying what it waits for."""
    if decision.routing is Routing.BLOCKED:
        return tuple(
            PlanNote(PlanKind.BLOCKED_BY, reason.ticket_id, _note(reason.detail))
            for reason in decision.reasons
            if reason.code in _BLOCKING and reason.ticket_id is not None
        )
    if decision.routing is Routing.WAITING_CAPACITY:
        return (PlanNote(PlanKind.WAITING_CAPACITY_NOTE, None, _note(decision.reason)),)
    return ()


def _items(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(item for item in (shown(text).strip() for text in texts) if item)


def _note(text: str) -> str | None:
    return shown(text).strip() or None
