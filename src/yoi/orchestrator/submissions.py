"""What a worker submitted: the report tool call a run ended with, read back from its transcript.

Code believes a structured submission, never prose: the last ``submit_*`` call of a run whose
result was not an error is the worker's answer, and its arguments are validated again as the
tool validated them. A run that never submitted, or whose every submission was refused, has
no answer — the caller sends the worker back, it does not guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from yoi.engine.messages import ToolCall
from yoi.runtime.transcript import Role, TranscriptEntry, TranscriptPage

__all__ = ["Submission", "TranscriptSource", "last_submission", "read_submission"]

_PAGE = 200


@dataclass(frozen=True, slots=True)
class Submission:
    """A report tool call the tool accepted, and where it is in the transcript."""

    call: ToolCall
    run_id: str | None
    sequence: int


class TranscriptSource(Protocol):
    """Anything that pages a worker's transcript: a Runtime, a RuntimeClient."""

    async def transcript(
        self, worker_id: str, start: int = 1, limit: int | None = None
    ) -> TranscriptPage: ...


def last_submission(
    entries: Iterable[TranscriptEntry], tools: frozenset[str], *, run_id: str | None = None
) -> Submission | None:
    """The last call of one of ``tools`` (in run ``run_id``, when given) that its tool
    accepted; ``None`` when there is none."""
    calls: dict[str, TranscriptEntry] = {}
    found: Submission | None = None
    for entry in entries:
        tool = entry.tool
        if entry.role is not Role.TOOL or tool is None or tool.name not in tools:
            continue
        if run_id is not None and entry.run_id != run_id:
            continue
        if not tool.result:
            calls[tool.call_id] = entry
            continue
        asked = calls.pop(tool.call_id, None)
        if asked is not None and not tool.is_error:
            call = ToolCall(tool.call_id, tool.name, asked.content)
            found = Submission(call, asked.run_id, asked.sequence)
    return found


async def read_submission(
    source: TranscriptSource, worker_id: str, tools: frozenset[str], *, run_id: str | None = None
) -> Submission | None:
    """:func:`last_submission` over a worker's whole transcript, page by page."""
    entries: list[TranscriptEntry] = []
    start: int | None = 1
    while start is not None:
        page = await source.transcript(worker_id, start, _PAGE)
        entries.extend(page.items)
        start = page.next_start
    return last_submission(entries, tools, run_id=run_id)
