"""Collecting ``rg --null`` output: the first records kept and parsed, every one counted.

Counting past the kept ones stays cheap (a byte count or one regular-expression scan per
chunk), so a search with a million matches still says how many it left out. Every record
starts with a path ended by NUL, which no path holds, so a name with a newline or a colon
cannot be mistaken for a line number or for the next record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from yoi.engine.tool import ToolResult

__all__ = ["Matches", "Names", "display", "one_line"]

_MATCH = re.compile(rb"\0[0-9]+:")
_LINE = re.compile(rb"([0-9]+)([:-])")
_Namer = Callable[[bytes], str]
_ROOT = PurePosixPath(".")
# Every character str.splitlines() breaks at, shown escaped so a name or a summary stays
# on its one line.
_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def one_line(text: str) -> str:
    return text.translate(_BREAKS)


def display(raw: bytes, prefix: PurePosixPath | None) -> str:
    """A name ``rg`` printed, as the model reads it: relative to the workdir, bytes that
    are not UTF-8 escaped (never lone surrogates, which no JSON encoder takes), one line."""
    text = raw.decode("utf-8", "backslashreplace").removeprefix("./")
    return one_line(text if prefix in (None, _ROOT) else f"{prefix}/{text}")


class Names:
    """NUL-separated names (``rg --files`` or ``--files-with-matches``): ``keep`` kept."""

    def __init__(self, keep: int) -> None:
        self.names: list[bytes] = []
        self.total = 0
        self._keep = keep
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        end = data.rfind(b"\0") + 1
        self._partial = data[end:]
        self.total += data.count(b"\0", 0, end)
        room = self._keep - len(self.names)
        if room > 0 and end:
            self.names += data[: end - 1].split(b"\0")[:room]

    def keep_only(self, allowed: frozenset[bytes]) -> None:
        kept = [name for name in self.names if name in allowed]
        self.total -= len(self.names) - len(kept)
        self.names = kept


@dataclass(frozen=True, slots=True)
class _Line:
    path: bytes
    number: int
    match: bool
    text: bytes


class Matches:
    """Records of one ``grep`` call in ``mode`` (content, files or count)."""

    def __init__(
        self, mode: str, keep: int, characters: int, allowed: frozenset[bytes] | None = None
    ) -> None:
        self.mode = mode
        self._allowed = allowed
        self._unfiltered = b""
        self._keep = keep
        self._characters = characters
        self._names = Names(keep)
        self._lines: list[_Line] = []
        self._counts: list[tuple[bytes, int]] = []
        self._partial = b""
        self.total = 0

    @property
    def shown(self) -> int:
        return len(self._lines) + len(self._counts) + len(self._names.names)

    def feed(self, chunk: bytes) -> None:
        if self._allowed is not None:
            chunk = self._filter(chunk, self._allowed)
        if self.mode == "files":
            self._names.feed(chunk)
            self.total = self._names.total
            return
        data = self._partial + chunk
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        if self.mode == "count":
            self.total += data.count(b"\0", 0, end)
            self._keep_counts(data[:end])
        else:
            self.total += len(_MATCH.findall(data, 0, end))
            self._keep_lines(data[:end])

    def _filter(self, chunk: bytes, allowed: frozenset[bytes]) -> bytes:
        """``chunk``'s complete records of files in ``allowed``, the rest held back."""
        data = self._unfiltered + chunk
        if self.mode == "files":
            end = data.rfind(b"\0") + 1
            self._unfiltered = data[end:]
            names = data[:end].split(b"\0")[:-1]
            return b"".join(name + b"\0" for name in names if name in allowed)
        end = data.rfind(b"\n") + 1
        self._unfiltered = data[end:]
        records = self._records(data[:end])
        return b"".join(path + b"\0" + body + b"\n" for path, body in records if path in allowed)

    def _records(self, data: bytes) -> list[tuple[bytes, bytes]]:
        records, start = [], 0
        while (zero := data.find(b"\0", start)) >= 0:
            stop = data.find(b"\n", zero)
            records.append((data[start:zero], data[zero + 1 : stop]))
            start = stop + 1
        return records

    def _keep_counts(self, data: bytes) -> None:
        if len(self._counts) >= self._keep:
            return
        for path, body in self._records(data)[: self._keep - len(self._counts)]:
            self._counts.append((path, int(body) if body.isdigit() else 0))

    def _keep_lines(self, data: bytes) -> None:
        kept = sum(line.match for line in self._lines)
        if kept >= self._keep and not self._trailing_context(data):
            return
        for path, body in self._records(data):
            parsed = _LINE.match(body)
            if parsed is None:
                continue  # a note such as "binary file matches"
            line = _Line(path, int(parsed[1]), parsed[2] == b":", body[parsed.end() :])
            if kept >= self._keep and (line.match or path != self._lines[-1].path):
                return  # after the last kept match only its own trailing context follows
            kept += line.match
            self._lines.append(line)

    def _trailing_context(self, data: bytes) -> bool:
        return bool(self._lines) and data.startswith(self._lines[-1].path + b"\0")

    def drop_linked(self, directory: int | None) -> int:
        """Forget files with more than one hard link (their other name may be outside)."""
        if directory is None:
            return 0
        paths = {line.path for line in self._lines} | {path for path, _ in self._counts}
        paths |= set(self._names.names)
        linked = {path for path in paths if _links(directory, path) > 1}
        self._lines = [line for line in self._lines if line.path not in linked]
        self._counts = [item for item in self._counts if item[0] not in linked]
        self._names.names = [name for name in self._names.names if name not in linked]
        return len(linked)

    def result(
        self,
        prefix: PurePosixPath | None,
        file_name: str | None,
        timed_out: bool,
        problem: str | None,
        skipped: int,
    ) -> ToolResult:
        def name(raw: bytes) -> str:
            return one_line(file_name) if file_name is not None else display(raw, prefix)

        body, shown = self._render(name)
        summary = self._summary(shown)
        notes = [note for note in _notes(timed_out, problem, skipped) if note]
        if notes:
            summary += f" ({'; '.join(notes)})"
        if not body:
            return ToolResult(summary, summary)
        return ToolResult(summary, f"{body}\n[{summary}]")

    def _render(self, name: _Namer) -> tuple[str, int]:
        if self.mode == "files":
            entries = sorted(name(raw) for raw in self._names.names)
            return _bounded(entries, self._characters)
        if self.mode == "count":
            entries = sorted(f"{name(path)}: {count}" for path, count in self._counts)
            return _bounded(entries, self._characters)
        return self._render_lines(name)

    def _render_lines(self, name: _Namer) -> tuple[str, int]:
        by_file: dict[bytes, list[_Line]] = {}
        for line in self._lines:
            by_file.setdefault(line.path, []).append(line)
        out: list[str] = []
        size = shown = 0
        for path in sorted(by_file, key=name):
            block = [name(path)]
            previous = None
            for line in by_file[path]:
                if previous is not None and line.number != previous + 1:
                    block.append("--")
                mark = ":" if line.match else "-"
                text = line.text.removesuffix(b"\r").decode("utf-8", "replace")
                block.append(f"{line.number}{mark}{text}")
                previous = line.number
            text = "\n".join(block)
            if size + len(text) > self._characters:
                break
            out.append(text)
            size += len(text) + 1
            shown += sum(line.match for line in by_file[path])
        return "\n".join(out), shown

    def _summary(self, shown: int) -> str:
        noun = {"files": "file(s) with matches", "count": "file(s) with matches"}
        what = noun.get(self.mode, "matching line(s)")
        if self.total == 0:
            return "no matches"
        summary = f"{self.total} {what}"
        if shown < self.total:
            summary += f", {shown} shown, {self.total - shown} more not shown"
        return summary


def _notes(timed_out: bool, problem: str | None, skipped: int) -> list[str]:
    return [
        "timed out: results are incomplete" if timed_out else "",
        f"rg reported: {problem}" if problem else "",
        f"{skipped} hard-linked file(s) left out" if skipped else "",
    ]


def _bounded(entries: list[str], characters: int) -> tuple[str, int]:
    kept: list[str] = []
    size = 0
    for entry in entries:
        if size + len(entry) > characters:
            break
        kept.append(entry)
        size += len(entry) + 1
    return "\n".join(kept), len(kept)


def _links(directory: int, path: bytes) -> int:
    try:
        return os.stat(path, dir_fd=directory, follow_symlinks=False).st_nlink
    except OSError:
        return 1
