"""A worker's conversation as display items: the snapshot, older pages and live events folded.

:class:`Conversation` knows nothing of widgets. It takes the stream's frames as plain
dicts (``{"seq", "at", "worker_id", "event": {"type": ..., ...}}``, as ``Event.to_dict``
and the web console see them) and transcript entries as dicts, and keeps an ordered
list of :class:`Item` — messages, folded thinking, tool calls with their arguments,
results and pending approvals, and notices. It records what changed since the widgets
last looked (:meth:`Conversation.take_changes`), so a screen can draw a burst of
thousands of text deltas in one refresh.

The events that make a transcript entry name it (``transcript_sequence``); the
snapshot's tail and older pages are entries with a ``sequence``. The conversation
never shows one entry twice: entries it has placed are skipped when a page brings
them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any, Literal

__all__ = [
    "Approval",
    "Changes",
    "Conversation",
    "Item",
    "ItemKind",
]

ItemKind = Literal["user", "assistant", "system", "thinking", "tool", "notice", "error"]
Decision = Literal["pending", "allow", "deny", "expired"]
_MESSAGE_ROLES: dict[str, ItemKind] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
}
_uids = count(1)


@dataclass
class Approval:
    """A tool call an ``ask`` rule holds until a person answers."""

    approval_id: str
    rule: str
    decision: Decision = "pending"
    by: str | None = None


@dataclass(eq=False)
class Item:
    """One thing shown in the conversation; ``version`` grows whenever it changes."""

    kind: ItemKind
    run_id: str | None = None
    sequence: int | None = None
    uid: int = field(default_factory=lambda: next(_uids))
    version: int = 0
    live: bool = False
    """Still streaming (a reply or thinking whose run has not said it is done)."""
    queued: bool = False
    cut: str | None = None
    """How a reply's run ended before it was done (``cancelled``), if it did."""
    # -- a tool call
    call_id: str | None = None
    name: str = ""
    arguments: str = ""
    result: str | None = None
    summary: str | None = None
    is_error: bool = False
    done: bool = False
    approval: Approval | None = None
    _chunks: list[str] = field(default_factory=list)
    _text: str | None = ""

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self._chunks)
            self._chunks = [self._text]
        return self._text

    def append(self, text: str) -> None:
        self._chunks.append(text)
        self._text = None

    def set_text(self, text: str) -> None:
        self._chunks = [text]
        self._text = text


@dataclass
class Changes:
    """What changed since the last look: ``reset`` means draw everything afresh."""

    reset: bool = False
    prepended: list[Item] = field(default_factory=list)
    appended: list[Item] = field(default_factory=list)
    updated: list[Item] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.reset or bool(self.prepended or self.appended or self.updated)


class Conversation:
    """The items of one worker's conversation, in order."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.items: list[Item] = []
        self.status: str | None = None
        self.worker: dict[str, Any] = {}
        self.usage = {"input_tokens": 0, "output_tokens": 0}
        self.oldest: int | None = None
        """The lowest entry sequence shown; older entries are a page back."""
        self.unread_results: list[int] = []
        """Entries of tool results the events only summarised: read them back for the output."""
        self._placed: set[int] = set()
        self._calls: dict[str, Item] = {}
        self._users: dict[str, Item] = {}
        self._live: Item | None = None
        self._thinking: Item | None = None
        self._changes = Changes(reset=True)
        self._updated: set[int] = set()

    # -- what the widgets read ------------------------------------------------------

    def take_changes(self) -> Changes:
        changes, self._changes = self._changes, Changes()
        self._updated = set()
        return changes

    @property
    def pending_approvals(self) -> list[Item]:
        return [
            item
            for item in self.items
            if item.approval is not None and item.approval.decision == "pending"
        ]

    @property
    def more_before(self) -> bool:
        return self.oldest is not None and self.oldest > 1

    # -- feeding it -----------------------------------------------------------------

    def snapshot(self, body: Mapping[str, Any]) -> None:
        """Start over from a snapshot event's body: the worker, its tail, the run in flight."""
        self._reset()
        self.worker = dict(body.get("worker") or {})
        self.status = _str(self.worker.get("status"))
        tail = list(body.get("transcript_tail") or ())
        for entry in tail:
            self._entry(entry, self._append)
        run = body.get("run")
        if isinstance(run, Mapping):
            self._run_in_flight(run)
        for approval in self.worker.get("approvals") or ():
            self._approval_requested(approval)

    def older(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Put older transcript entries above the rest; how many were new."""
        made: list[Item] = []
        for entry in entries:
            self._entry(entry, made.append)
        self.items[:0] = made
        self._changes.prepended[:0] = made
        return len(made)

    def apply(self, frame: Mapping[str, Any]) -> None:
        """One event of the stream (not a snapshot)."""
        event = frame.get("event") or {}
        handler = _HANDLERS.get(_str(event.get("type")) or "")
        if handler is not None:
            handler(self, event)

    def fill_result(self, entry: Mapping[str, Any]) -> None:
        """A tool result entry read back: the output the finished event only summarised."""
        tool = entry.get("tool") or {}
        item = self._calls.get(_str(tool.get("call_id")) or "")
        if item is not None and item.result is None:
            item.result = _str(entry.get("content")) or ""
            self._touch(item)

    # -- events -----------------------------------------------------------------------

    def _input_accepted(self, event: Mapping[str, Any]) -> None:
        run_id = _str(event.get("run_id"))
        sequence = _int(event.get("transcript_sequence"))
        if (run_id and run_id in self._users) or (sequence and sequence in self._placed):
            return
        item = Item("user", run_id=run_id, queued=bool(event.get("queued")))
        item.set_text(_str(event.get("content")) or "")
        self._place(item, sequence)
        if run_id:
            self._users[run_id] = item
        self._append(item)

    def _run_started(self, event: Mapping[str, Any]) -> None:
        user = self._users.get(_str(event.get("run_id")) or "")
        if user is not None and user.queued:
            user.queued = False
            self._touch(user)

    def _thinking_delta(self, event: Mapping[str, Any]) -> None:
        self._thinking_for(_str(event.get("run_id"))).append(_str(event.get("text")) or "")

    def _thinking_done(self, event: Mapping[str, Any]) -> None:
        item = self._thinking_for(_str(event.get("run_id")))
        item.set_text(_str(event.get("text")) or "")
        item.live = False
        self._thinking = None
        self._touch(item)

    def _text_delta(self, event: Mapping[str, Any]) -> None:
        item = self._live_for(_str(event.get("run_id")))
        item.append(_str(event.get("text")) or "")
        self._touch(item)

    def _text_done(self, event: Mapping[str, Any]) -> None:
        text = _str(event.get("text")) or ""
        run_id = _str(event.get("run_id"))
        if not text and (self._live is None or self._live.run_id != run_id):
            return
        sequence = _int(event.get("transcript_sequence"))
        if sequence and sequence in self._placed:
            self._end_live()
            return
        item = self._live_for(run_id)
        item.set_text(text)
        item.cut = _str(event.get("cut"))
        self._place(item, sequence)
        self._end_live()

    def _tool_started(self, event: Mapping[str, Any]) -> None:
        self._end_live()
        item = self._call(event, _str(event.get("name")) or "")
        item.arguments = _str(event.get("arguments")) or ""
        self._place(item, _int(event.get("transcript_sequence")))
        self._touch(item)

    def _tool_finished(self, event: Mapping[str, Any]) -> None:
        item = self._call(event, _str(event.get("name")) or "")
        item.summary = _str(event.get("summary"))
        item.is_error = bool(event.get("is_error"))
        item.done = True
        sequence = _int(event.get("transcript_sequence"))
        self._place(item, sequence)
        if sequence and item.result is None:
            self.unread_results.append(sequence)
        self._touch(item)

    def _approval_requested(self, event: Mapping[str, Any]) -> None:
        item = self._call(event, _str(event.get("tool")) or "")
        if not item.arguments:
            item.arguments = _str(event.get("arguments")) or ""
        approval_id = _str(event.get("approval_id")) or ""
        if item.approval is None or item.approval.approval_id != approval_id:
            item.approval = Approval(approval_id, _str(event.get("rule")) or "")
        self._touch(item)

    def _approval_resolved(self, event: Mapping[str, Any]) -> None:
        approval_id = _str(event.get("approval_id"))
        for item in self._calls.values():
            if item.approval is not None and item.approval.approval_id == approval_id:
                decision = _str(event.get("decision"))
                item.approval.decision = (
                    "allow" if decision == "allow" else "deny" if decision == "deny" else "expired"
                )
                item.approval.by = _str(event.get("by"))
                self._touch(item)

    def _run_finished(self, event: Mapping[str, Any]) -> None:
        result = _str(event.get("result")) or "finished"
        if self._live is not None and self._live.run_id == _str(event.get("run_id")):
            if result != "completed":
                self._live.cut = result
            self._end_live()
        user = self._users.get(_str(event.get("run_id")) or "")
        if user is not None and user.queued:
            user.queued = False
            self._touch(user)
        error = event.get("error")
        text = f"run {result}"
        if isinstance(error, Mapping):
            text += f" — {error.get('code')}: {error.get('message')}"
        self._notice("notice" if error is None else "error", text)

    def _error(self, event: Mapping[str, Any]) -> None:
        self._notice("error", f"{event.get('code')}: {event.get('message')}")

    def _status(self, event: Mapping[str, Any]) -> None:
        self.status = _str(event.get("status"))

    def _stopped(self, event: Mapping[str, Any]) -> None:
        self.status = "stopped"
        reason = _str(event.get("reason"))
        self._notice("notice", "worker stopped" + (f": {reason}" if reason else ""))

    def _usage(self, event: Mapping[str, Any]) -> None:
        for key in self.usage:
            self.usage[key] += _int(event.get(key)) or 0

    # -- the pieces ---------------------------------------------------------------------

    def _entry(self, entry: Mapping[str, Any], put: Any) -> None:
        sequence = _int(entry.get("sequence"))
        if sequence is None or sequence in self._placed:
            return
        self.oldest = sequence if self.oldest is None else min(self.oldest, sequence)
        tool = entry.get("tool")
        content = _str(entry.get("content")) or ""
        if isinstance(tool, Mapping):
            self._tool_entry(entry, tool, content, put)
            return
        item = Item(_MESSAGE_ROLES.get(_str(entry.get("role")) or "", "system"))
        item.run_id = _str(entry.get("run_id"))
        item.cut = _str(entry.get("cut"))
        item.set_text(content)
        if item.kind == "user" and item.run_id:
            self._users.setdefault(item.run_id, item)
        self._place(item, sequence)
        put(item)

    def _tool_entry(
        self, entry: Mapping[str, Any], tool: Mapping[str, Any], content: str, put: Any
    ) -> None:
        call_id = _str(tool.get("call_id")) or ""
        known = self._calls.get(call_id)
        item = known or Item("tool", run_id=_str(entry.get("run_id")), call_id=call_id)
        item.name = _str(tool.get("name")) or item.name
        if tool.get("result"):
            item.result = content
            item.summary = _str(tool.get("summary"))
            item.is_error = bool(tool.get("is_error"))
            item.done = True
        else:
            item.arguments = content
        self._placed.add(_int(entry.get("sequence")) or 0)
        if known is None:
            self._calls[call_id] = item
            put(item)
        else:
            self._touch(item)

    def _run_in_flight(self, run: Mapping[str, Any]) -> None:
        run_id = _str(run.get("run_id"))
        thinking = _str(run.get("thinking"))
        if thinking:
            self._thinking_for(run_id).set_text(thinking)
        text = _str(run.get("text"))
        if text:
            self._live_for(run_id).set_text(text)
        for approval in run.get("approvals") or ():
            self._approval_requested(approval)

    def _call(self, event: Mapping[str, Any], name: str) -> Item:
        call_id = _str(event.get("call_id")) or ""
        item = self._calls.get(call_id)
        if item is None:
            item = Item("tool", run_id=_str(event.get("run_id")), call_id=call_id, name=name)
            self._calls[call_id] = item
            self._append(item)
        return item

    def _live_for(self, run_id: str | None) -> Item:
        if self._live is not None and self._live.run_id == run_id:
            return self._live
        self._end_live()
        self._live = Item("assistant", run_id=run_id, live=True)
        self._append(self._live)
        return self._live

    def _thinking_for(self, run_id: str | None) -> Item:
        if self._thinking is not None and self._thinking.run_id == run_id:
            self._touch(self._thinking)
            return self._thinking
        self._thinking = Item("thinking", run_id=run_id, live=True)
        self._append(self._thinking)
        return self._thinking

    def _end_live(self) -> None:
        if self._live is not None:
            self._live.live = False
            self._touch(self._live)
            self._live = None

    def _notice(self, kind: ItemKind, text: str) -> None:
        item = Item(kind)
        item.set_text(text)
        self._append(item)

    def _place(self, item: Item, sequence: int | None) -> None:
        if sequence:
            item.sequence = item.sequence or sequence
            self._placed.add(sequence)
            if self.oldest is None:
                self.oldest = sequence

    def _append(self, item: Item) -> None:
        self.items.append(item)
        self._changes.appended.append(item)
        self._updated.add(item.uid)

    def _touch(self, item: Item) -> None:
        item.version += 1
        if item.uid not in self._updated:
            self._updated.add(item.uid)
            self._changes.updated.append(item)


_HANDLERS = {
    "input_accepted": Conversation._input_accepted,
    "run_started": Conversation._run_started,
    "thinking_delta": Conversation._thinking_delta,
    "thinking_done": Conversation._thinking_done,
    "text_delta": Conversation._text_delta,
    "text_done": Conversation._text_done,
    "tool_call_started": Conversation._tool_started,
    "tool_call_finished": Conversation._tool_finished,
    "approval_requested": Conversation._approval_requested,
    "approval_resolved": Conversation._approval_resolved,
    "run_finished": Conversation._run_finished,
    "error": Conversation._error,
    "status": Conversation._status,
    "worker_stopped": Conversation._stopped,
    "usage": Conversation._usage,
}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
