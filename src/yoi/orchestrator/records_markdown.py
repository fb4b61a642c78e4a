"""The Markdown pieces the orchestrator's ticket records are made of: labelled bullet lists,
code spans, quoted text.

What goes into a record may come from a model, a branch name or git's output; each piece
is written so that it stays inside its own line or quote, and so that a record holds only
text a ticket accepts (no NUL, no lone surrogate).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from yoi.errors import InvalidRequest

__all__ = ["check_items", "code", "labelled", "quoted", "shown"]

_BREAKS = "\u2028\u2029"
_TICKS = re.compile(r"`+")


def shown(text: str) -> str:
    """``text`` on one line: controls, line breaks and undecodable bytes as visible escapes."""
    return "".join(_shown_char(char) for char in text)


def _shown_char(char: str) -> str:
    code = ord(char)
    if "\ud800" <= char <= "\udfff":
        return f"\\x{code - 0xDC00:02x}" if code >= 0xDC80 else f"\\u{code:04x}"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    if char in _BREAKS:
        return f"\\u{code:04x}"
    return char


def code(text: str) -> str:
    """A code span holding ``text`` exactly (CommonMark: a fence longer than any run of
    backticks inside, padded where the text starts or ends with one)."""
    text = shown(text)
    longest = max((len(run) for run in _TICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    ticked = text.startswith("`") or text.endswith("`")
    spaced = text.startswith(" ") and text.endswith(" ") and bool(text.strip(" "))
    pad = " " if ticked or spaced else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def quoted(text: str) -> str:
    """A block quote of free text (a model's summary): no line of it can pose as a label."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)


def labelled(label: str, items: Iterable[str]) -> str:
    """``Label:`` and a bullet per item, as the original orchestrator wrote its sections."""
    return "\n".join([f"{label}:", *(f"- {item}" for item in items)])


def check_items(items: tuple[str, ...], where: str) -> tuple[str, ...]:
    """Refuse an item a bullet cannot hold so that it reads back the same: empty, padded,
    or spanning lines. Records are written from code; a bad item is a bug to surface."""
    for index, item in enumerate(items):
        if not item.strip() or item != item.strip() or shown(item) != item:
            raise InvalidRequest(
                f"{where}[{index}] must be one line of text without padding: {item[:80]!r}"
            )
    return items
