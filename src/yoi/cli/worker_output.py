"""What ``yoi worker`` prints: worker tables and details, transcript lines, and a watched
worker's events, pending approvals with the exact commands that answer them among them."""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yoi.cli.render import ReplyRenderer
from yoi.cli.worker_create import DEFAULT_RUNTIME
from yoi.runtime import (
    AssistantIntent,
    Intent,
    RoleIntent,
    TaskIntent,
    TranscriptEntry,
    WorkerDetail,
)
from yoi.runtime.events import (
    ApprovalRequested,
    ApprovalResolved,
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
    "Answering",
    "WatchRenderer",
    "approval_lines",
    "describe_worker",
    "grant_text",
    "listing_notes",
    "resolution_line",
    "transcript_lines",
    "worker_table",
]

_CLIP = 80
_ARGUMENTS_CLIP = 240
"""How much of a held call's arguments a terminal shows: enough to decide, not a screenful."""
_APPROVAL_FIELDS = ("run_id", "approval_id", "call_id", "tool", "arguments", "rule", "expires_at")


@dataclass(frozen=True, slots=True)
class Answering:
    """The worker whose approvals are shown, and the backend the answer must reach."""

    worker_id: str
    runtime_id: str = DEFAULT_RUNTIME
    backend: str | None = None
    """The ``--backend`` to repeat in the commands (None: the one found by default)."""

    def command(self, verb: str, approval_id: str) -> str:
        """``yoi worker allow|deny WORKER APPROVAL`` with the options that reach this worker."""
        words = ["yoi", "worker", verb, self.worker_id, approval_id]
        if self.runtime_id != DEFAULT_RUNTIME:
            words += ["--runtime", self.runtime_id]
        if self.backend is not None:
            words += ["--backend", self.backend]
        return shlex.join(words)


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
    if detail.approvals:
        waiting = ", ".join(approval.approval_id for approval in detail.approvals)
        fields.append(("approvals", f"{waiting} (yoi worker approvals {detail.worker_id})"))
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


def approval_lines(asked: ApprovalRequested, answering: Answering) -> list[str]:
    """A held tool call as a person decides on it: what would run, by which rule, until when,
    and the two commands that answer it."""
    approval = asked.approval_id
    return [
        f"[approval] {approval}: {_shown(asked.tool, _CLIP)} waits for your answer",
        f"    arguments: {_shown(asked.arguments, _ARGUMENTS_CLIP)}",
        f"    rule:      {_shown(asked.rule, _CLIP)}",
        f"    expires:   {_shown(asked.expires_at, _CLIP)} (no answer by then denies it)",
        f"    allow:     {answering.command('allow', approval)}",
        f"    deny:      {answering.command('deny', approval)}",
    ]


def resolution_line(resolved: ApprovalResolved) -> str:
    outcome = "allowed" if resolved.decision == "allow" else "denied"
    match resolved.by:
        case "timeout":
            why = ": no one answered before it expired"
        case "cancelled":
            why = ": its run ended while it waited"
        case _:
            why = ""
    return f"[approval] {resolved.approval_id} {outcome}{why}"


def pending_approvals(raw: object) -> list[ApprovalRequested]:
    """The pending approvals of a worker's JSON view (a snapshot's ``worker``), as the events
    that asked for them; anything malformed is skipped rather than shown wrong."""
    if not isinstance(raw, list):
        return []
    return [found for item in raw if (found := _approval(item)) is not None]


def _approval(item: object) -> ApprovalRequested | None:
    if not isinstance(item, Mapping):
        return None
    fields = {name: item.get(name) for name in _APPROVAL_FIELDS}
    texts = {name: value for name, value in fields.items() if isinstance(value, str)}
    return ApprovalRequested(**texts) if len(texts) == len(fields) else None


class WatchRenderer:
    """A worker's events as they arrive: reply text on ``out`` as it streams, and one line
    on ``err`` for the rest (where the worker stands, inputs, tool calls, approvals, errors,
    run ends)."""

    def __init__(self, renderer: ReplyRenderer, answering: Answering, *, resuming: bool) -> None:
        self._renderer = renderer
        self._answering = answering
        self._resuming = resuming
        self._asked: set[str] = set()

    def show(self, body: EventBody) -> None:
        match body:
            case Snapshot(worker=worker, run=run):
                self._snapshot(worker, run)
            case InputAccepted(content=content, queued=queued):
                self._renderer.note(f"[input] {_clip(content)}" + (" (queued)" if queued else ""))
            case ApprovalRequested():
                self._ask(body)
            case ApprovalResolved():
                self._renderer.note(resolution_line(body))
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

    def _ask(self, asked: ApprovalRequested) -> None:
        if asked.approval_id in self._asked:
            return  # a snapshot showed it already
        self._asked.add(asked.approval_id)
        for line in approval_lines(asked, self._answering):
            self._renderer.note(line)

    def _snapshot(self, worker: dict[str, object], run: dict[str, object] | None) -> None:
        name = worker.get("display_ref") or worker.get("worker_id")
        self._renderer.note(f"watching {name} ({worker.get('status')})")
        for asked in pending_approvals(worker.get("approvals")):
            self._ask(asked)
        if run is None or self._resuming:
            return  # when resuming, the events after the cursor carry the run's text
        text, run_id = run.get("text"), run.get("run_id")
        if isinstance(text, str) and isinstance(run_id, str):
            self._renderer.render(TextDeltaEvent(run_id, text))  # the reply so far


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CLIP else flat[: _CLIP - 3] + "..."


def _shown(text: str, limit: int) -> str:
    """``text`` on one line, its control and format characters escaped, cut at ``limit``: what
    a model wrote cannot move the cursor, recolour or hide part of what a person approves."""
    flat = " ".join(text.split())
    safe = "".join(_escaped(char) for char in flat)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def _escaped(char: str) -> str:
    if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs"):
        return f"\\u{ord(char):04x}"
    return char
