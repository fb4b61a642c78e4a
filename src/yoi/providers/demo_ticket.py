"""What the demo playbook model reads: the orchestrator's input and the ticket it quotes.

An orchestrator input starts ``[yoi-orchestrator <kind> <TICKET_ID> op=<operation id>]``; a
``fix`` says ``Why: <reason>`` on its second line; the ticket is quoted whole after a
``## Ticket`` line, as ``<ID>: <title>``, a blank line and the body (the format of
:mod:`yoi.orchestrator.prompts`, read here as text: a provider does not import the
orchestrator). The body may spell out files::

    <<< path/relative/to/repo
    file content lines…
    >>>

and ``<<<fix path`` blocks the same way, for the fix round. Parsing is strict: a block whose
path is not a plain relative path, or that never closes, is ignored, and no text makes the
parser raise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

__all__ = [
    "Ask",
    "AskKind",
    "FileBlock",
    "Ticket",
    "parse_blocks",
    "read_ask",
    "read_ticket",
    "render_blocks",
]

MAX_PATH = 255
_HEADER = re.compile(r"\[yoi-orchestrator (intake|implement|fix|review) (\S+) op=(\S+)\]")
_WHY = re.compile(r"Why: (\S+)")
_OPEN = "<<< "
_OPEN_FIX = "<<<fix "
_CLOSE = ">>>"
_TICKET = "## Ticket"


class AskKind(StrEnum):
    INTAKE = "intake"
    IMPLEMENT = "implement"
    FIX = "fix"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Ask:
    """One orchestrator input: what is asked, about which ticket, and (a fix) why."""

    kind: AskKind
    ticket_id: str
    why: str | None = None


@dataclass(frozen=True, slots=True)
class FileBlock:
    """A file the ticket spells out whole; ``fix`` blocks are for the fix round only."""

    path: str
    content: str
    fix: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: str
    title: str
    body: str

    @property
    def blocks(self) -> tuple[FileBlock, ...]:
        return parse_blocks(self.body)

    @property
    def plain(self) -> tuple[FileBlock, ...]:
        return tuple(block for block in self.blocks if not block.fix)

    @property
    def fixes(self) -> tuple[FileBlock, ...]:
        return tuple(block for block in self.blocks if block.fix)

    def says(self, directive: str) -> bool:
        """Whether the body holds the line ``Demo: <directive>``."""
        wanted = f"Demo: {directive}"
        return any(line.strip() == wanted for line in self.body.split("\n"))

    def prose(self) -> list[str]:
        """The body's non-empty lines outside file blocks and ``Demo:`` lines."""
        lines: list[str] = []
        inside = False
        for line in self.body.split("\n"):
            if inside:
                inside = line != _CLOSE
            elif line.startswith((_OPEN, _OPEN_FIX)):
                inside = True
            elif line.strip() and not line.strip().startswith("Demo:"):
                lines.append(line.strip())
        return lines


def read_ask(text: str) -> Ask | None:
    """The input's header (and a fix's reason); ``None`` when it is no orchestrator input."""
    lines = text.split("\n")
    found = _HEADER.fullmatch(lines[0].strip()) if lines else None
    if found is None:
        return None
    kind = AskKind(found.group(1))
    why = _WHY.fullmatch(lines[1].strip()) if kind is AskKind.FIX and len(lines) > 1 else None
    return Ask(kind, found.group(2), why.group(1) if why is not None else None)


def read_ticket(text: str, ticket_id: str) -> Ticket | None:
    """The ticket an input quotes under ``## Ticket``, when it is ``ticket_id``."""
    lines = text.split("\n")
    try:
        start = lines.index(_TICKET)
    except ValueError:
        return None
    heading = lines[start + 1] if len(lines) > start + 1 else ""
    found_id, colon, title = heading.partition(": ")
    if not colon or found_id != ticket_id:
        return None
    return Ticket(ticket_id, title.strip(), "\n".join(lines[start + 3 :]))


def parse_blocks(body: str) -> tuple[FileBlock, ...]:
    """Every well-formed block of ``body``, in order; a bad one is skipped, never fatal."""
    blocks: list[FileBlock] = []
    lines = body.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        fix = line.startswith(_OPEN_FIX)
        if not fix and not line.startswith(_OPEN):
            continue
        path = line[len(_OPEN_FIX if fix else _OPEN) :]
        try:
            end = lines.index(_CLOSE, index)
        except ValueError:
            break  # never closed: nothing after it is a block
        content = "".join(f"{text}\n" for text in lines[index:end])
        index = end + 1
        if plain_path(path):
            blocks.append(FileBlock(path, content, fix))
    return tuple(blocks)


def render_blocks(blocks: Sequence[FileBlock]) -> str:
    """Blocks as a ticket body writes them (``parse_blocks`` reads them back)."""
    parts = []
    for block in blocks:
        opening = _OPEN_FIX if block.fix else _OPEN
        parts.append(f"{opening}{block.path}\n{block.content}{_CLOSE}\n")
    return "".join(parts)


def plain_path(path: str) -> bool:
    """A path a block may name: relative, normal, printable, outside ``.git`` and ``.yoi``."""
    if not path or len(path) > MAX_PATH or path != path.strip() or not path.isprintable():
        return False
    if path.startswith("/") or "\\" in path or "//" in path or path.endswith("/"):
        return False
    parts = PurePosixPath(path).parts
    if any(part in {".", ".."} for part in parts) or len(parts) != path.count("/") + 1:
        return False
    return parts[0] not in {".git", ".yoi", ".worktree"}
