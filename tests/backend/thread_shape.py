"""A ticket thread reduced to its shape: what was said, in what order, by whom, without what
differs from one run of the same work to another — the ticket's id, title and slug, commit
hashes, times and durations.

Two runs of the same ticket on the demo playbook model write threads of one shape; a restart
that writes an event twice, drops one, or writes one differently gives another shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from yoi.orchestrator.integration_names import slug
from yoi.tickets.views import TicketDetail

__all__ = ["EventShape", "Shape", "thread_shape"]

_SHA = re.compile(r"\b[0-9a-f]{40}\b")
_SECONDS = re.compile(r"\(\d+(?:\.\d+)? s\)")
_ROUND = re.compile(r" \(\d+\)$")
"""The ``(2)`` a ticket of a later round of a test carries after its title."""
_TICKET = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{13}\b")


@dataclass(frozen=True, slots=True)
class EventShape:
    """One thread event: its header (but its time), heading and body, normalized."""

    kind: str
    author: str
    attrs: tuple[tuple[str, str], ...]
    heading: str | None
    body: str

    def __str__(self) -> str:
        header = " ".join(f"{key}: {value}" for key, value in self.attrs)
        return f"[{self.kind} by {self.author} {header}] {self.heading}\n{self.body}"


Shape = tuple[EventShape, ...]


def thread_shape(detail: TicketDetail) -> Shape:
    """The events of a ticket's thread as :class:`EventShape`, in thread order."""
    title = detail.meta.title
    words = [
        (title, "<title>"),
        (_ROUND.sub("", title), "<title>"),
        (slug(title), "<slug>"),
        (detail.id, "<id>"),
        (detail.id.lower(), "<id>"),
    ]

    def normal(text: str) -> str:
        for word, placeholder in words:
            text = text.replace(word, placeholder)
        return _TICKET.sub("<other>", _SECONDS.sub("(<s>)", _SHA.sub("<sha>", text)))

    return tuple(
        EventShape(
            event.kind,
            event.author,
            tuple((key, normal(value)) for key, value in event.attrs),
            None if event.heading is None else normal(event.heading),
            normal(event.body),
        )
        for event in detail.events
    )
