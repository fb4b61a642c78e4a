"""Helpers for drawing a conversation's text: blocks of a growing reply, tool arguments,
diffs. No widgets here."""

from __future__ import annotations

import json

__all__ = ["BLOCK", "cut_points", "format_arguments", "looks_like_diff"]

BLOCK = 4_000
"""Characters of a streamed text drawn as one block: a growing reply is redrawn only from
its last block, so each redraw costs the same however long the reply has grown."""


def cut_points(text: str, start: int = 0, block: int = BLOCK) -> list[int]:
    """Where to cut ``text[start:]`` into blocks of at most ``block`` characters, leaving a
    tail of at most ``block`` uncut: after a newline, else after a space, found in the
    second half of the block; mid-word only when there is neither. The cuts depend on
    ``start`` alone, so cutting as the text grows gives the cuts of the whole."""
    cuts: list[int] = []
    while len(text) - start > block:
        end = start + block
        cut = text.rfind("\n", start + block // 2, end)
        if cut < 0:
            cut = text.rfind(" ", start + block // 2, end)
        start = cut + 1 if cut >= 0 else end
        cuts.append(start)
    return cuts


def format_arguments(arguments: str) -> str:
    """A tool call's JSON arguments, indented for reading (as given when not JSON)."""
    try:
        return json.dumps(json.loads(arguments), indent=2, ensure_ascii=False)
    except ValueError:
        return arguments


def looks_like_diff(text: str) -> bool:
    """Whether a tool's output is a unified diff (drawn coloured)."""
    lines = text.splitlines()[:40]
    headers = any(line.startswith(("--- ", "+++ ", "diff --git")) for line in lines)
    return headers and any(line.startswith("@@") for line in lines)
