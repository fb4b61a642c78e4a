"""``thread.md``: an append-only log of event blocks.

A block is a header line ``<!-- event: KIND author: A at: TS ... -->``, a
blank line, an optional ``## Heading``, the body, and a line ``---``. A
header value is bare when it holds no whitespace, ``"``, ``\\`` or ``-->``,
else double-quoted with ``\\"`` and ``\\\\`` escapes. Headers inside fenced
code blocks are text, not events: real threads quote the format.

A line ends at ``\\n`` only (a ``\\r`` before it belongs to the ending), for
the reader and the writer alike: ``\\u2028``, ``\\x85``, a form feed and the
other characters :meth:`str.splitlines` also breaks at are text inside a
line. So that a tool which does split there cannot be fooled either, the
writer indents by one space every header that would follow such a character,
and refuses a header value or heading holding any of them.

Reading keeps every attribute, known or not (legacy ``reviewer:`` and
``result:``, ``field: workflow_state``, kinds like ``migration``), and
collects what it cannot read as problems instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from yoi.errors import InvalidRequest
from yoi.tickets.model import ThreadEvent

__all__ = [
    "LINE_BREAKS",
    "Thread",
    "ThreadProblem",
    "format_value",
    "parse_thread",
    "render_event",
    "split_lines",
    "stored_body",
]

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
"""Every character :meth:`str.splitlines` ends a line at; only ``\\n`` does in a thread."""

_HEADER = "<!-- event:"
_HEADER_AFTER_BREAK = re.compile(f"([{LINE_BREAKS[2:]}])(?={re.escape(_HEADER)})")
_KEY = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*):(?:\s+|$)")
_NEXT_KEY = re.compile(r"\s+[A-Za-z_][A-Za-z0-9_]*:(?:\s|$)")
_BARE = re.compile(r"[^\s\"\\]+")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class ThreadProblem:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Thread:
    events: tuple[ThreadEvent, ...]
    problems: tuple[ThreadProblem, ...]


def parse_thread(text: str) -> Thread:
    """Every readable event; an event without its closing ``---`` is torn: dropped when it
    is the last (an append cut short), kept but reported when another follows it."""
    events: list[ThreadEvent] = []
    problems: list[ThreadProblem] = []
    blocks = list(_blocks(split_lines(text)))
    for number, (start, lines) in enumerate(blocks, start=1):
        try:
            event = _event(lines)
        except ValueError as error:
            problems.append(ThreadProblem(start + 1, str(error)))
            continue
        if _closed(lines):
            events.append(event)
        elif number == len(blocks):
            problems.append(ThreadProblem(start + 1, "the last event is torn: it has no '---'"))
        else:
            events.append(event)
            message = "the event has no '---' before the next one: it may be torn"
            problems.append(ThreadProblem(start + 1, message))
    return Thread(tuple(events), tuple(problems))


def render_event(
    kind: str,
    author: str,
    at: str,
    *,
    heading: str | None,
    body: str,
    attrs: Sequence[tuple[str, str]] = (),
) -> str:
    """One block, ending in ``---\\n``; the caller separates it from the previous one."""
    pairs = [("event", kind), ("author", author), ("at", at), *attrs]
    for key, value in pairs:
        _one_line(value, key)
    header = "<!-- " + " ".join(f"{key}: {format_value(value)}" for key, value in pairs) + " -->"
    parts = [header]
    if heading:
        parts.append(f"## {_one_line(heading, 'heading')}")
    text = stored_body(body)
    if text:
        parts.append(text)
    return "\n\n".join(parts) + "\n\n---\n"


def format_value(value: str) -> str:
    if value and _BARE.fullmatch(value) and "-->" not in value:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _blocks(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Each header's line number and its lines, up to the next header outside a fence."""
    start: int | None = None
    fence: str | None = None
    for index, line in enumerate(lines):
        if fence is None and line.startswith(_HEADER):
            if start is not None:
                yield start, lines[start:index]
            start = index
            continue
        fence = _fence_after(line, fence)
    if start is not None:
        yield start, lines[start:]


def _fence_after(line: str, fence: str | None) -> str | None:
    match = _FENCE.match(line)
    if match is None:
        return fence
    marker = match.group(1)
    if fence is None:
        return marker
    closes = marker[0] == fence[0] and len(marker) >= len(fence) and not line[match.end() :].strip()
    return None if closes else fence


def _event(lines: list[str]) -> ThreadEvent:
    header = lines[0].rstrip()
    if not header.endswith("-->"):
        raise ValueError("the event header is not closed with '-->'")
    attrs = _attributes(header[len("<!--") : -len("-->")])
    values = dict(attrs)
    kind, author, at = values.get("event"), values.get("author"), values.get("at")
    if not kind:
        raise ValueError("the event header names no kind")
    if not at:
        raise ValueError(f"the {kind} event has no 'at'")
    heading, body = _content(lines[1:])
    extra = tuple((key, value) for key, value in attrs if key not in ("event", "author", "at"))
    return ThreadEvent(kind, author or "", at, extra, heading, body)


def _attributes(source: str) -> list[tuple[str, str]]:
    attrs: list[tuple[str, str]] = []
    position = 0
    while source[position:].strip():
        key = _KEY.match(source, position)
        if key is None:
            raise ValueError(f"the event header cannot be read near {source[position:][:30]!r}")
        value, position = _value(source, key.end())
        attrs.append((key.group(1), value))
    return attrs


def _value(source: str, position: int) -> tuple[str, int]:
    if source.startswith('"', position):
        return _quoted(source, position + 1)
    following = _NEXT_KEY.search(source, position)
    end = following.start() if following else len(source)
    return source[position:end].strip(), end


def _quoted(source: str, position: int) -> tuple[str, int]:
    chars: list[str] = []
    while position < len(source):
        char = source[position]
        if char == "\\" and position + 1 < len(source):
            chars.append(source[position + 1])
            position += 2
            continue
        if char == '"':
            return "".join(chars), position + 1
        chars.append(char)
        position += 1
    raise ValueError("a quoted value in the event header is not closed")


def _content(lines: list[str]) -> tuple[str | None, str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lines and lines[-1].strip() == "---":
        lines = lines[:-1]
    while lines and not lines[0].strip():
        lines = lines[1:]
    heading = None
    if lines and lines[0].startswith("## "):
        heading = lines[0][3:].strip()
        lines = lines[1:]
    return heading, "\n".join(lines).strip("\n").rstrip()


def _closed(lines: list[str]) -> bool:
    """Whether the block's last non-blank line is its ``---``."""
    filled = [line.strip() for line in lines[1:] if line.strip()]
    return filled[-1:] == ["---"]


def split_lines(text: str) -> list[str]:
    """The lines of a thread as reader and writer both see them: only ``\\n`` ends one."""
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def stored_body(body: str) -> str:
    """``body`` as a block holds it, and exactly what reading the block gives back.

    Line endings become ``\\n``, leading blank lines and trailing whitespace
    go, a line that would start an event (after ``\\n`` outside a fence, or
    after any other line break anywhere) is indented by one space, and a
    fence left open is closed.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    lines = "\n".join(lines).rstrip().split("\n")
    fence: str | None = None
    for index, line in enumerate(lines):
        if fence is None and line.startswith(_HEADER):
            line = " " + line
        lines[index] = line = _HEADER_AFTER_BREAK.sub(r"\1 ", line)
        fence = _fence_after(line, fence)
    if fence is not None:
        lines.append(fence)
    return "\n".join(lines).strip("\n")


def _one_line(value: str, field: str) -> str:
    """A header value or heading, refused if any reader could see a line break in it."""
    if any(char in LINE_BREAKS for char in value):
        raise InvalidRequest(f"an event's {field} must be one line", details={"field": field})
    return value
