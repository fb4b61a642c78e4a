"""How a reply looks in a terminal: streamed text, dimmed thinking, one line per tool call."""

from __future__ import annotations

from typing import Literal, TextIO

from yoi.runtime.events import (
    ErrorEvent,
    EventBody,
    TextDeltaEvent,
    ThinkingDeltaEvent,
    ToolCallFinishedEvent,
    ToolCallStartedEvent,
)

__all__ = ["ReplyRenderer"]

_DIM = "\x1b[2m"
_RESET = "\x1b[0m"
_CLIP = 80


class ReplyRenderer:
    """Writes a worker's events as they arrive.

    Reply text goes to ``out`` as it streams. Thinking is shown dimmed when
    ``color`` is on (a terminal) and skipped otherwise, so piped output is the
    reply alone. Tool calls and retry notices are one line each on ``err``.
    """

    def __init__(self, out: TextIO, err: TextIO, *, color: bool = False) -> None:
        self._out = out
        self._err = err
        self._color = color
        self._mode: Literal["text", "thinking"] = "text"
        self._mid_line = False

    def render(self, body: EventBody) -> None:
        match body:
            case TextDeltaEvent(text=text):
                self._write("text", text)
            case ThinkingDeltaEvent(text=text) if self._color:
                self._write("thinking", text)
            case ToolCallStartedEvent(name=name, arguments=arguments):
                self.note(f"[tool] {name} {_clip(arguments)}")
            case ToolCallFinishedEvent(name=name, summary=summary, is_error=True):
                self.note(f"[tool] {name} failed: {_clip(summary)}")
            case ErrorEvent(code=code, message=message):
                self.note(f"yoi: {code}: {message}")
            case _:
                pass

    def note(self, line: str) -> None:
        """Write one line to ``err``, first ending any line the reply left open."""
        self.end_line()
        self._err.write(line + "\n")
        self._err.flush()

    def end_line(self) -> None:
        """End the reply's current line, if it has one open."""
        if self._mid_line:
            self._out.write("\n")
            self._out.flush()
            self._mid_line = False
        self._mode = "text"

    def _write(self, mode: Literal["text", "thinking"], text: str) -> None:
        if not text:
            return
        if mode != self._mode and self._mid_line:
            self._out.write("\n")
        self._mode = mode
        self._out.write(f"{_DIM}{text}{_RESET}" if mode == "thinking" else text)
        self._out.flush()
        self._mid_line = not text.endswith("\n")


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CLIP else flat[: _CLIP - 3] + "..."
