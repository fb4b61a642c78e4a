"""How the workspace tools show tickets to a model: compact text with every part bounded.

One-line values (titles, authors) are folded to one line; long texts are cut with a
visible marker saying how much was left out; long lists end with how many were not
shown. So no ticket, however large or hand-edited, floods a model's context or breaks
the one-ticket-a-line listings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from yoi.tickets import Blocker, ReadyView, State, ThreadEvent, TicketDetail, TicketSummary
from yoi.tickets.lifecycle import actions_for

__all__ = [
    "MAX_CONTENT",
    "Hit",
    "bounded",
    "clip",
    "detail_text",
    "hits_text",
    "listing_text",
    "one_line",
    "ready_text",
    "snippet",
]

MAX_TITLE = 120
MAX_BODY = 6_000
MAX_EVENT = 1_500
MAX_RESOLUTION = 2_000
MAX_SNIPPET = 160
MAX_CONTENT = 24_000
"""Below the engine's output bound, so a result is never cut mid-ticket by the runner."""

_QUEUE_GATE = (
    "Only a person queues a ticket (ready → queued): that is the gate that lets the "
    "orchestrator start it. Tickets in planning are marked ready by a person too."
)


@dataclass(frozen=True, slots=True)
class Hit:
    """A ticket a search matched: where (``title``, ``body`` or a thread event) and a snippet."""

    ticket: TicketSummary
    where: str
    snippet: str | None = None


def one_line(value: str, most: int = MAX_TITLE) -> str:
    """``value`` on one line (every run of whitespace one space), at most ``most`` characters."""
    folded = " ".join(value.split())
    return folded if len(folded) <= most else folded[: most - 1] + "…"


def clip(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, with a marker saying how many were left out."""
    text = text.strip("\n")
    if len(text) <= most:
        return text
    return f"{text[:most]}\n[… {len(text) - most} more characters not shown]"


def bounded(content: str) -> str:
    return clip(content, MAX_CONTENT)


def _row(summary: TicketSummary) -> str:
    meta = summary.meta
    return f"{summary.id}\t{meta.state}\t{_moment(meta.updated_at)}\t{one_line(meta.title)}"


def _moment(value: str) -> str:
    """A timestamp as the files hold it; a hand-edited one may hold anything."""
    return one_line(value, 40)


def _more(shown: int, total: int, what: str) -> list[str]:
    return [f"… and {total - shown} more {what} not shown"] if total > shown else []


def _unreadable(invalid: Mapping[str, str]) -> list[str]:
    if not invalid:
        return []
    ids = ", ".join(sorted(invalid)[:10])
    return [f"{len(invalid)} ticket folder(s) cannot be read ({ids}); `yoi ticket doctor` says why"]


def listing_text(shown: Sequence[TicketSummary], total: int, invalid: Mapping[str, str]) -> str:
    lines = ["ID\tSTATE\tUPDATED_AT\tTITLE", *map(_row, shown)]
    lines += _more(len(shown), total, "tickets") + _unreadable(invalid)
    return bounded("\n".join(lines))


def hits_text(hits: Sequence[Hit], more: bool, skipped: int) -> str:
    lines = ["ID\tSTATE\tWHERE\tTITLE"]
    for hit in hits:
        lines.append(
            f"{hit.ticket.id}\t{hit.ticket.meta.state}\t{hit.where}\t"
            f"{one_line(hit.ticket.meta.title)}"
        )
        if hit.snippet is not None:
            lines.append(f"    {hit.snippet}")
    if more:
        lines.append("… more tickets match; narrow the query or raise limit")
    if skipped:
        lines.append(f"{skipped} ticket(s) could not be read and were not searched")
    return bounded("\n".join(lines))


def snippet(text: str, needle: str) -> str | None:
    """The line of ``text`` holding ``needle`` (casefolded), near the match, on one line."""
    for raw in text.split("\n"):
        folded = raw.casefold()
        at = folded.find(needle)
        if at < 0:
            continue
        # casefolding may change a line's length; then the match's place is not known
        start = max(0, at - MAX_SNIPPET // 3) if len(folded) == len(raw) else 0
        shown = one_line(raw[start:], MAX_SNIPPET)
        return f"…{shown}" if start else shown
    return None


def _blockers(blockers: Sequence[Blocker]) -> str:
    return ", ".join(f"{b.ticket_id} ({b.state}, via {b.via})" for b in blockers)


def detail_text(detail: TicketDetail, events: int) -> str:
    parts = ["\n".join(_head(detail))]
    if detail.body.strip():
        parts.append(clip(detail.body, MAX_BODY))
    parts.append(_thread(detail.events, events))
    if detail.resolution is not None:
        parts.append("resolution:\n" + clip(detail.resolution, MAX_RESOLUTION))
    return bounded("\n\n".join(parts))


def _head(detail: TicketDetail) -> list[str]:
    meta = detail.meta
    lines = [
        f"{detail.id}: {one_line(meta.title, 300)}",
        f"state: {meta.state}; created {_moment(meta.created_at)}; "
        f"updated {_moment(meta.updated_at)}",
    ]
    optional = {
        "assignee": meta.assignee,
        "readiness": meta.readiness,
        "risk_flags": ", ".join(meta.risk_flags) or None,
        "queued_by": meta.queued_by,
        "queued_at": meta.queued_at,
        "priority": meta.priority,
    }
    lines += [f"{key}: {one_line(value)}" for key, value in optional.items() if value]
    if detail.blockers:
        lines.append(f"waits for: {_blockers(detail.blockers)}")
    relations = [f"{r.kind} {r.target}" for r in detail.relations]
    relations += [f"{i.kind} {i.ticket_id}" for i in detail.inverses]
    if relations:
        lines.append(one_line("relations: " + "; ".join(relations), 2_000))
    lines += [one_line(f"notice: {n.message}") for n in detail.notices[:10]]
    if detail.artifacts:
        lines.append(one_line("artifacts: " + ", ".join(detail.artifacts), 1_000))
    lines += [one_line(f"problem: {p}", 300) for p in detail.problems[:10]]
    return lines


def _thread(events: Sequence[ThreadEvent], most: int) -> str:
    tail = events[-most:] if most else ()
    lines = [f"thread: the last {len(tail)} of {len(events)} events"]
    for event in tail:
        lines.append(
            f"--- {one_line(event.kind, 40)} by {one_line(event.author, 100)} "
            f"at {_moment(event.at)}"
        )
        if event.body.strip():
            lines.append(clip(event.body, MAX_EVENT))
    return "\n".join(lines)


def ready_text(
    view: ReadyView, awaiting: Sequence[tuple[TicketSummary, Sequence[Blocker]]], most: int
) -> str:
    """The orchestrator's queue and why each queued ticket does or does not start, then the
    tickets in ``ready`` a person could queue, and what queueing each would meet."""
    lines = [f"Queued and ready: {len(view.ready)} (the orchestrator starts them in queue order)"]
    lines += [
        f"{s.id}\tqueued {_moment(s.meta.queued_at or '-')}\t{one_line(s.meta.title)}"
        for s in view.ready[:most]
    ]
    lines += _more(min(most, len(view.ready)), len(view.ready), "tickets")
    lines.append("")
    lines.append(
        f"Queued but waiting: {len(view.waiting)} (each starts once what it waits "
        "for is done or closed)"
    )
    lines += [
        f"{w.ticket.id}\t{one_line(w.ticket.meta.title)}\twaits for {_blockers(w.blockers)}"
        for w in view.waiting[:most]
    ]
    lines += _more(min(most, len(view.waiting)), len(view.waiting), "tickets")
    lines.append("")
    lines.append(f"In ready, not queued: {len(awaiting)} (waiting for a person to queue them)")
    lines += [
        f"{s.id}\t{one_line(s.meta.title)}\t{_queueing(blockers)}"
        for s, blockers in awaiting[:most]
    ]
    lines += _more(min(most, len(awaiting)), len(awaiting), "tickets")
    lines += ["", _QUEUE_GATE]
    return bounded("\n".join(lines))


def _queueing(blockers: Sequence[Blocker]) -> str:
    """What queueing a ``ready`` ticket would meet, by the rule the front ends show."""
    queue = next(a for a in actions_for(State.READY, blockers) if a.name == "queue")
    if queue.blocked:
        return f"cannot be queued yet: {_blockers(queue.blockers)} not done"
    if queue.blockers:
        return f"can be queued, then waits for {_blockers(queue.blockers)}"
    return "can be queued"
