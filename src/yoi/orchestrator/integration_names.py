"""The names the orchestrator gives a ticket's work in git: ``work/<ID>-<slug>`` branches and
``.worktree/<ID>-<slug>`` folders, and the integration branch's merge messages.

A slug is made of the title alone, so the same title always gives the same name; it is ASCII
``[a-z0-9]`` words joined by ``-`` and at most :data:`SLUG_LIMIT` long, which is a valid git
ref component and a safe folder name. A name is never reused: when ``work/<ID>-<slug>`` is
taken (or was, as the caller's record says), the next is ``-2``, then ``-3``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from yoi.tickets.ids import ticket_id as canonical_ticket_id

__all__ = [
    "SLUG_LIMIT",
    "WORK_PREFIX",
    "candidate_names",
    "merge_message",
    "slug",
    "work_branch",
]

SLUG_LIMIT = 40
WORK_PREFIX = "work/"
_FALLBACK = "ticket"
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slug(title: str, *, limit: int = SLUG_LIMIT) -> str:
    """``title`` as lowercase ASCII words joined by ``-``, cut at a word boundary where one
    falls inside ``limit``; ``ticket`` when nothing of it is ASCII."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = _NOT_WORD.sub("-", ascii_text.lower()).strip("-")
    if len(words) > limit:
        cut = words[: limit + 1]
        words = cut[: cut.rfind("-")] if "-" in cut else words[:limit]
    return words.strip("-") or _FALLBACK[:limit]


def candidate_names(ticket_id: str, title: str) -> Iterator[str]:
    """``<ID>-<slug>``, then ``<ID>-<slug>-2``, ``-3`` and on: the caller takes the first that
    no branch, folder or record of its own holds."""
    base = f"{canonical_ticket_id(ticket_id)}-{slug(title)}"
    yield base
    number = 2
    while True:
        yield f"{base}-{number}"
        number += 1


def work_branch(name: str) -> str:
    return f"{WORK_PREFIX}{name}"


def merge_message(ticket_id: str, title: str) -> str:
    """The integration branch's merge commit message: ``merge: <ID> <title>`` on one line."""
    flat = " ".join(title.split())
    return f"merge: {canonical_ticket_id(ticket_id)} {flat}".rstrip()
