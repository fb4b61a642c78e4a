"""How ``yoi ticket`` prints for people: tab-separated tables with a header, and ``show``'s block.

Every table cell is one line without tabs, so ``cut -f`` and ``awk -F'\\t'``
read the output safely even when a title or note holds odd whitespace. Each
renderer returns the whole text at once: a listing of ten thousand tickets
is written in one call, not line by line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from yoi.tickets import (
    Blocker,
    PlanRecord,
    ReadyView,
    Relation,
    ThreadEvent,
    TicketDetail,
    TicketSummary,
)

__all__ = [
    "blockers_cell",
    "cell",
    "detail_text",
    "events_text",
    "plans_text",
    "ready_text",
    "relations_text",
    "summaries_text",
    "table",
]

_NONE = "-"


def cell(value: object) -> str:
    """One table cell: ``-`` for nothing, every run of whitespace (tabs, newlines) one space."""
    if value is None or value == "":
        return _NONE
    if isinstance(value, str) and value.isprintable():  # no tab or line break to fold
        return value
    return " ".join(str(value).split()) or _NONE


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["\t".join(header)]
    lines += ["\t".join(cell(value) for value in row) for row in rows]
    return "\n".join(lines)


def summaries_text(summaries: Iterable[TicketSummary]) -> str:
    rows = ((s.id, s.meta.state.value, s.meta.title, s.meta.updated_at) for s in summaries)
    return table(("ID", "STATE", "TITLE", "UPDATED_AT"), rows)


def events_text(ticket_id: str, events: Iterable[ThreadEvent]) -> str:
    rows = ((ticket_id, e.kind, e.author, e.at, e.heading) for e in events)
    return table(("TICKET_ID", "KIND", "AUTHOR", "AT", "HEADING"), rows)


def relations_text(relations: Iterable[Relation]) -> str:
    rows = ((r.ticket_id, r.kind.value, r.target, r.author, r.at, r.note) for r in relations)
    return table(("TICKET_ID", "KIND", "TARGET", "AUTHOR", "AT", "NOTE"), rows)


def plans_text(records: Iterable[PlanRecord]) -> str:
    rows = (
        (r.id, r.ticket_id, r.kind.value, r.related_ticket, r.author, r.at, _plan_detail(r))
        for r in records
    )
    return table(("ID", "TICKET_ID", "KIND", "RELATED_TICKET", "AUTHOR", "AT", "DETAIL"), rows)


def _plan_detail(record: PlanRecord) -> str | None:
    """The note, or an accepted plan's summary followed by its branch and worktree."""
    if not record.accepted_plan:
        return record.note
    plan = record.accepted_plan
    parts = [str(plan.get("summary", ""))]
    parts += [f"{key}={plan[key]}" for key in ("branch", "worktree", "role_plan") if key in plan]
    return " ".join(parts)


def blockers_cell(blockers: Iterable[Blocker]) -> str:
    return ", ".join(f"{b.ticket_id} ({b.state.value}, {b.via})" for b in blockers)


def ready_text(view: ReadyView, *, explain: bool) -> str:
    """The orchestrator's queue; with ``explain``, then the queued tickets that wait and why."""
    ready = table(
        ("ID", "QUEUED_AT", "TITLE"),
        ((s.id, s.meta.queued_at, s.meta.title) for s in view.ready),
    )
    if not explain:
        return ready
    waiting = table(
        ("WAITING_ID", "WAITS_FOR", "TITLE"),
        ((w.ticket.id, blockers_cell(w.blockers), w.ticket.meta.title) for w in view.waiting),
    )
    return f"{ready}\n\n{waiting}"


def detail_text(detail: TicketDetail) -> str:
    """``show``: the front matter, the body, then one section per kind of thing the ticket holds."""
    parts = [_meta_block(detail)]
    if detail.body.strip():
        parts.append(detail.body.strip("\n"))
    sections = [
        ("events", [_event_block(event) for event in detail.events]),
        ("relations", _relation_lines(detail)),
        ("blockers", [f"{b.ticket_id}\t{b.state.value}\t{b.via}" for b in detail.blockers]),
        ("notices", [notice.message for notice in detail.notices]),
        ("plans", plans_text(detail.plans).splitlines()[1:]),
        ("artifacts", list(detail.artifacts)),
        ("resolution", [detail.resolution.rstrip("\n")] if detail.resolution is not None else []),
        ("problems", list(detail.problems)),
    ]
    parts += [f"== {name} ({len(lines)})\n" + "\n".join(lines) for name, lines in sections if lines]
    return "\n\n".join(parts)


def _meta_block(detail: TicketDetail) -> str:
    meta = detail.meta
    lines = [
        ("id", detail.id),
        ("title", meta.title),
        ("state", meta.state.value),
        ("created_at", meta.created_at),
        ("updated_at", meta.updated_at),
        ("assignee", meta.assignee),
    ]
    optional = [
        ("readiness", meta.readiness),
        ("risk_flags", ", ".join(meta.risk_flags) or None),
        ("queued_by", meta.queued_by),
        ("queued_at", meta.queued_at),
        ("priority", meta.priority),
    ]
    lines += [(name, value) for name, value in optional if value is not None]
    return "\n".join(f"{name}\t{cell(value)}" for name, value in lines)


def _event_block(event: ThreadEvent) -> str:
    """An event's header line, then its heading and body indented under it."""
    attrs = " ".join(f"{key}={cell(value)}" for key, value in event.attrs)
    head = "\t".join(cell(value) for value in (event.kind, event.at, event.author, attrs or None))
    text = [f"## {event.heading}"] if event.heading else []
    text += event.body.strip("\n").splitlines()
    return "\n".join([head, *(f"    {line}" if line else "" for line in text)])


def _relation_lines(detail: TicketDetail) -> list[str]:
    """Outgoing relations as stored, then the inverses other tickets' relations imply."""
    outgoing = [("out", r.kind.value, r.target, r.note) for r in detail.relations]
    incoming = [("in", i.kind, i.ticket_id, i.note) for i in detail.inverses]
    return ["\t".join(cell(value) for value in row) for row in (*outgoing, *incoming)]
