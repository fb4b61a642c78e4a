"""What ``yoi worker`` prints: worker tables and details, transcript lines, and a watched
worker's events."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from yoi.cli.render import ReplyRenderer
from yoi.runtime import (
    AssistantIntent,
    Intent,
    RoleIntent,
    TaskIntent,
    TranscriptEntry,
    WorkerDetail,
)
from yoi.runtime.events import (
    EventBody,
    InputAccepted,
    RunFinished,
    Snapshot,
    TextDeltaEvent,
    WorkerStoppedEvent,
)
from yoi.tools.scope import Grant

if TYPE_CHECKING:
    from yoi.client.backend import WorkerListing

__all__ = [
    "WatchRenderer",
    "describe_worker",
    "grant_text",
    "listing_notes",
    "transcript_lines",
    "worker_table",
]

_CLIP = 80


def worker_table(workers: Iterable[WorkerDetail]) -> list[str]:
    """One aligned row per worker, under a header; nothing at all for no workers."""
    rows = [
        (item.runtime_id, item.worker_id, str(item.status), item.profile, item.display_name)
        for item in workers
    ]
    if not rows:
        return []
    header = ("RUNTIME", "WORKER", "STATUS", "PROFILE", "NAME")
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(4)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]])
        for row in (header, *rows)
    ]


def listing_notes(listing: WorkerListing) -> list[str]:
    notes = [
        f"runtime {problem.runtime_id}: {problem.code}: {problem.message}"
        for problem in listing.diagnostics
    ]
    if not listing.workers:
        notes.append("no workers")
    if listing.next_after is not None:
        notes.append(f"more workers: --after {listing.next_after}")
    return notes


def describe_worker(detail: WorkerDetail) -> list[str]:
    fields = [
        ("worker", detail.worker_id),
        ("runtime", detail.runtime_id),
        ("name", detail.display_name),
        ("status", str(detail.status)),
        ("profile", detail.profile),
        ("model", detail.model),
        ("intent", _intent_text(detail.intent)),
        ("tools", ", ".join(detail.tools) or "none"),
        ("workdir", detail.workdir or "none"),
    ]
    if detail.grant is not None:
        fields.append(("grant", grant_text(detail.grant)))
    fields += [
        ("runs", str(detail.runs)),
        ("transcript", f"{detail.transcript_total} entries"),
        ("queued", f"{detail.queued_inputs} inputs"),
    ]
    if detail.run is not None:
        tools = ", ".join(detail.run.tools_in_flight)
        fields.append(("run", detail.run.run_id + (f" (tools: {tools})" if tools else "")))
    return [f"{name:<11}{value}" for name, value in fields]


def grant_text(grant: Grant) -> str:
    """``read, glob (under src, docs)``: the bits a worker holds on its workdir, and where."""
    bits = ", ".join(sorted(bit.value for bit in grant.capabilities)) or "nothing"
    return bits + (f" (under {', '.join(grant.paths)})" if grant.paths else "")


def _intent_text(intent: Intent) -> str:
    match intent:
        case TaskIntent(objective=objective):
            return f"task: {objective}"
        case RoleIntent(role=role, purpose=purpose):
            return f"role: {role}" + (f" ({purpose})" if purpose else "")
        case AssistantIntent(purpose=purpose):
            return "assistant" + (f": {purpose}" if purpose else "")


def transcript_lines(entry: TranscriptEntry) -> list[str]:
    """``#N role: content``, a tool entry on one line, further lines indented; a reply
    its run cut short says how (``#N assistant (cancelled): ...``)."""
    tool = entry.tool
    if tool is None:
        cut = f" ({entry.cut})" if entry.cut else ""
        head, text = f"#{entry.sequence} {entry.role}{cut}: ", entry.content
    elif not tool.result:
        head, text = f"#{entry.sequence} tool call {tool.name}: ", _clip(entry.content)
    else:
        outcome = "failed" if tool.is_error else "result"
        head, text = f"#{entry.sequence} tool {outcome} {tool.name}: ", _clip(entry.content)
    first, *rest = text.split("\n")
    return [head + first, *(f"    {line}" if line else "" for line in rest)]


class WatchRenderer:
    """A worker's events as they arrive: reply text on ``out`` as it streams, and one line
    on ``err`` for the rest (where the worker stands, inputs, tool calls, errors, run ends)."""

    def __init__(self, renderer: ReplyRenderer, *, resuming: bool) -> None:
        self._renderer = renderer
        self._resuming = resuming

    def show(self, body: EventBody) -> None:
        match body:
            case Snapshot(worker=worker, run=run):
                self._snapshot(worker, run)
            case InputAccepted(content=content, queued=queued):
                self._renderer.note(f"[input] {_clip(content)}" + (" (queued)" if queued else ""))
            case RunFinished(result="completed"):
                self._renderer.end_line()
            case RunFinished(result=result, error=error):
                problem = "" if error is None else f": {error.get('code')}: {error.get('message')}"
                self._renderer.note(f"[run] {result}{problem}")
            case WorkerStoppedEvent(reason=reason):
                self._renderer.note("[stopped]" + (f" {reason}" if reason else ""))
            case _:
                self._renderer.render(body)

    def end(self) -> None:
        self._renderer.end_line()

    def _snapshot(self, worker: dict[str, object], run: dict[str, object] | None) -> None:
        name = worker.get("display_ref") or worker.get("worker_id")
        self._renderer.note(f"watching {name} ({worker.get('status')})")
        if run is None or self._resuming:
            return  # when resuming, the events after the cursor carry the run's text
        text, run_id = run.get("text"), run.get("run_id")
        if isinstance(text, str) and isinstance(run_id, str):
            self._renderer.render(TextDeltaEvent(run_id, text))  # the reply so far


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CLIP else flat[: _CLIP - 3] + "..."
