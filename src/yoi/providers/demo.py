"""``demo:playbook``: a deterministic model that plays the orchestrator's three roles.

It is for showing the orchestrator's loop without a real model (``yoi orchestrator demo``),
never for doing a person's work: it applies only what a ticket spells out (file blocks, see
:mod:`yoi.providers.demo_ticket`), and otherwise writes a note naming the ticket.

Every answer is computed from the request alone, so it keeps no state and a restarted
worker carries on where its transcript is. The tools offered say the role (``submit_intent``
the intake, ``submit_review`` the reviewer, ``submit_report`` the coder); the last user
message is the orchestrator's input; the tool calls after it say how far the turn has got.
Each model request gets one step: one tool call, or the closing text.

Lines a ticket body may hold to show the loop's refusals: ``Demo: not ready`` (the intake
sends it back to planning), ``Demo: claim without commit`` (the first report claims work
that was never committed), ``Demo: request changes once`` (the first review asks for
changes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from yoi.engine.messages import AssistantMessage, Message, ToolCall, ToolResultMessage, UserMessage
from yoi.engine.model import ModelChunk, ModelRequest, TextChunk, ToolCallChunk, UsageChunk
from yoi.providers.demo_ticket import Ask, AskKind, Ticket, read_ask, read_ticket

__all__ = ["DEMO_NOTICE", "DEMO_REFERENCE", "DemoModel"]

DEMO_REFERENCE = "demo:playbook"
DEMO_NOTICE = (
    "This is yoi's demo playbook model: it plays the orchestrator's intake, coder and "
    "reviewer from what the ticket spells out, and does nothing else."
)
MAX_REQUIREMENTS = 10
MAX_ITEM = 200
_GENERIC = {
    "binding_decisions": "Change only what the ticket spells out.",
    "implementation_latitude": "None: the ticket gives the files whole.",
    "escalate_if": "The ticket's files cannot be written or committed.",
    "validation": "The configured validation commands pass on the merged tree.",
    "reviewer_focus": "The committed files are the ticket's files.",
}


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Use:
    tool: str
    arguments: Mapping[str, object]


Step = Say | Use


class DemoModel:
    """Plays the intake, the coder and the reviewer from the ticket text; see the module."""

    name = DEMO_REFERENCE

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        step = next_step(request)
        if isinstance(step, Use):
            call_id = f"demo_{len(request.messages)}"
            yield ToolCallChunk(ToolCall(call_id, step.tool, json.dumps(step.arguments)))
        else:
            yield TextChunk(step.text)
        await asyncio.sleep(0)  # a real stream lets others run between chunks
        yield UsageChunk(input_tokens=0, output_tokens=0)


def next_step(request: ModelRequest) -> Step:
    """The one step to take now, from the request alone."""
    offered = {tool.name for tool in request.tools}
    turn = Turn.of(request.messages)
    if turn.ask is None:
        return Say(f"{DEMO_NOTICE} It answers only the orchestrator's inputs.")
    if turn.ticket is None:
        return Say(f"{DEMO_NOTICE} No ticket text for {turn.ask.ticket_id} was found.")
    if "submit_intent" in offered and turn.ask.kind is AskKind.INTAKE:
        steps = intake_steps(turn.ticket)
    elif "submit_review" in offered and turn.ask.kind is AskKind.REVIEW:
        steps = review_steps(turn)
    elif "submit_report" in offered and turn.ask.kind is AskKind.IMPLEMENT:
        steps = implement_steps(turn)
    elif "submit_report" in offered and turn.ask.kind is AskKind.FIX:
        steps = fix_steps(turn)
    else:
        return Say(f"{DEMO_NOTICE} A {turn.ask.kind} input is not for this worker's role.")
    return steps[min(len(turn.done), len(steps) - 1)]


@dataclass(frozen=True, slots=True)
class Turn:
    """Where the conversation is: the current input, its ticket, the calls made since."""

    ask: Ask | None
    ticket: Ticket | None
    done: tuple[tuple[ToolCall, ToolResultMessage | None], ...] = ()
    earlier: tuple[Message, ...] = field(default=())

    @classmethod
    def of(cls, messages: Sequence[Message]) -> Turn:
        last = max((i for i, m in enumerate(messages) if isinstance(m, UserMessage)), default=-1)
        if last < 0:
            return cls(None, None)
        current = messages[last]
        assert isinstance(current, UserMessage)
        ask = read_ask(current.content)
        if ask is None:
            return cls(None, None)
        return cls(
            ask,
            _ticket(messages[: last + 1], ask),
            _calls(messages[last + 1 :]),
            tuple(messages[:last]),
        )

    def result(self, index: int) -> str:
        """The text a call returned ("" before it is made, or when it failed)."""
        if index >= len(self.done):
            return ""
        result = self.done[index][1]
        return "" if result is None or result.is_error else result.content

    def inputs(self, kind: AskKind) -> int:
        """How many inputs of ``kind`` this worker was sent, the current one included."""
        asks = [read_ask(m.content) for m in self.earlier if isinstance(m, UserMessage)]
        asks.append(self.ask)
        return sum(1 for ask in asks if ask is not None and ask.kind is kind)

    def called(self, tool: str) -> bool:
        """Whether an earlier input's turn called ``tool``."""
        return any(
            call.name == tool
            for message in self.earlier
            if isinstance(message, AssistantMessage)
            for call in message.tool_calls
        )


def _ticket(messages: Sequence[Message], ask: Ask) -> Ticket | None:
    """The newest quote of the ticket: a fix input quotes none, its implement input does."""
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            found = read_ticket(message.content, ask.ticket_id)
            if found is not None:
                return found
    return None


def _calls(after: Sequence[Message]) -> tuple[tuple[ToolCall, ToolResultMessage | None], ...]:
    results = {m.call_id: m for m in after if isinstance(m, ToolResultMessage)}
    return tuple(
        (call, results.get(call.id))
        for message in after
        if isinstance(message, AssistantMessage)
        for call in message.tool_calls
    )


# -- the roles ------------------------------------------------------------------------------


def intake_steps(ticket: Ticket) -> list[Step]:
    if ticket.says("not ready"):
        answer: dict[str, object] = {
            "implementation_ready": False,
            "not_ready_reason": "The ticket says it is not ready (Demo: not ready).",
            "intent": [_item(ticket.title)],
            **{name: [] for name in ("requirements", *_GENERIC)},
        }
        return [Use("submit_intent", answer), Say("Not ready: back to planning.")]
    requirements = [_item(line) for line in ticket.prose()[:MAX_REQUIREMENTS]]
    answer = {
        "implementation_ready": True,
        "intent": [_item(ticket.title)],
        "requirements": requirements or [_item(ticket.title)],
        **{name: [item] for name, item in _GENERIC.items()},
    }
    return [Use("submit_intent", answer), Say("Intent submitted: ready for a coder.")]


def review_steps(turn: Turn) -> list[Step]:
    assert turn.ticket is not None
    if turn.ticket.says("request changes once") and not turn.called("submit_review"):
        finding = {
            "severity": "major",
            "file": first_file(turn.ticket),
            "message": "The ticket asks for one round of changes (Demo: request changes once).",
        }
        asked = {
            "verdict": "request_changes",
            "summary": "One change asked.",
            "findings": [finding],
        }
        return [Use("submit_review", asked), Say("Changes requested.")]
    summary = "The commit holds the ticket's files."
    approved = {"verdict": "approve", "summary": summary, "findings": []}
    return [Use("submit_review", approved), Say("Approved.")]


def implement_steps(turn: Turn) -> list[Step]:
    ticket = turn.ticket
    assert ticket is not None
    files = [block.path for block in ticket.plain] or [note_path(ticket)]
    if ticket.says("claim without commit") and turn.inputs(AskKind.IMPLEMENT) == 1:
        return [_report(ticket, files, "Claimed without committing (demo)."), Say("Done.")]
    writes = _writes(ticket)
    message = f"{ticket.ticket_id}: {ticket.title}"
    return [*writes, *_commit_and_report(ticket, files, message)]


def fix_steps(turn: Turn) -> list[Step]:
    ticket, why = turn.ticket, (turn.ask.why if turn.ask is not None else None) or "unknown"
    assert ticket is not None
    steps: list[Step] = []
    if why == "claims":
        steps.extend(_writes(ticket))
    for block in ticket.fixes:
        steps += [_read(block.path), _write(block.path, block.content)]
    if not steps:
        target = first_file(ticket)
        known = _numbered_text(turn.result(0))
        steps += [_read(target), _write(target, f"{known}fixed: {why}\n")]
    written = {
        str(s.arguments["path"]) for s in steps if isinstance(s, Use) and s.tool == "write_file"
    }
    files = sorted(written)
    return [*steps, *_commit_and_report(ticket, files, f"{ticket.ticket_id}: fix {why}")]


def first_file(ticket: Ticket) -> str:
    return ticket.plain[0].path if ticket.plain else note_path(ticket)


def note_path(ticket: Ticket) -> str:
    return f"notes/{ticket.ticket_id}.md"


def _writes(ticket: Ticket) -> list[Step]:
    """Each plain block (or the note), read first: a file that exists is changed only once
    read, and a file that does not yet exist reads as an error the write then ends."""
    blocks = [(block.path, block.content) for block in ticket.plain]
    steps: list[Step] = []
    for path, content in blocks or [(note_path(ticket), f"# {ticket.title}\n")]:
        steps += [_read(path), _write(path, content)]
    return steps


def _commit_and_report(ticket: Ticket, files: list[str], message: str) -> list[Step]:
    return [
        Use("git_commit", {"message": message, "all": True}),
        _report(ticket, files, f"Wrote {', '.join(files)} as the ticket spells out; committed."),
        Say("Committed and reported."),
    ]


def _report(ticket: Ticket, files: list[str], summary: str) -> Use:
    return Use("submit_report", {"summary": summary, "files": files, "commands": []})


def _read(path: str) -> Use:
    return Use("read_file", {"path": path})


def _write(path: str, content: str) -> Use:
    return Use("write_file", {"path": path, "content": content})


def _numbered_text(shown: str) -> str:
    """A file's text back from read_file's numbered lines (``     1\\tline``)."""
    lines = []
    for line in shown.split("\n"):
        number, tab, text = line.partition("\t")
        if tab and number.strip().isdigit():
            lines.append(f"{text}\n")
    return "".join(lines)


def _item(text: str) -> str:
    """One intent item: one line of printable text, at most ``MAX_ITEM`` characters."""
    flat = "".join(char if char.isprintable() else " " for char in text).strip()
    return (flat or "(untitled)")[:MAX_ITEM]
