"""The file tools: ``read_file``, ``write_file`` and ``edit_file``, confined by a Scope.

Every path goes through the worker's :class:`Scope`; every failure is an error result
with a one-line summary. A file that exists is changed only when this worker read it
and nobody changed it since (the :class:`ReadLedger` remembers what was read), so an
edit never silently clobbers a change the model has not seen.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from yoi.engine.model import ToolSpec
from yoi.engine.tool import Tool, ToolResult
from yoi.errors import InvalidRequest
from yoi.tools._arguments import Arguments
from yoi.tools.blocking import BlockingTool
from yoi.tools.scope import Capability, Scope

__all__ = ["FileTools", "ReadLedger"]

DEFAULT_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_LINE_BYTES = MAX_LINE_CHARS * 4  # enough for the shown part in any UTF-8
CHUNK = 64 * 1024
_NUMBERED = "{:>6}\t{}\n"
MAX_PAGE_CHARS = 30_000
BINARY_PROBE = 8192
COUNT_LIMIT = 16 * 1024 * 1024  # lines past the page are counted only in files this small
MAX_EDIT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies one version of a file without reading it again."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int  # no utime() can set it back: a change that restores mtime still shows

    @classmethod
    def of(cls, info: os.stat_result) -> Fingerprint:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class ReadLedger:
    """The files one worker has read, each with the version it saw.

    Share one ledger between the tools of a worker; its lock also serialises that worker's
    writes, so two parallel edits of one file cannot both pass the check and lose one.
    """

    def __init__(self) -> None:
        self._seen: dict[PurePosixPath, Fingerprint] = {}
        self.lock = threading.Lock()

    def record(self, path: PurePosixPath, info: os.stat_result) -> None:
        self._seen[path] = Fingerprint.of(info)

    def check(self, path: PurePosixPath, info: os.stat_result) -> None:
        """Refuse to change ``path`` unless the version on disk is the one last read."""
        seen = self._seen.get(path)
        if seen is None:
            raise InvalidRequest(
                f"{_shown(path)} exists; read it with read_file before changing it"
            )
        if seen != Fingerprint.of(info):
            raise InvalidRequest(f"{_shown(path)} changed since it was read; read it again first")


class FileTools:
    """The three file tools of one worker, sharing its scope and read ledger."""

    def __init__(self, scope: Scope, ledger: ReadLedger | None = None) -> None:
        self.scope = scope
        self.ledger = ledger or ReadLedger()
        self.read_file: Tool = _file_tool(READ_FILE, self._read)
        self.write_file: Tool = _file_tool(WRITE_FILE, self._write)
        self.edit_file: Tool = _file_tool(EDIT_FILE, self._edit)

    @property
    def tools(self) -> tuple[Tool, ...]:
        return (self.read_file, self.write_file, self.edit_file)

    def _read(self, arguments: Arguments) -> ToolResult:
        self.scope.require(Capability.READ)
        path = self.scope.relative(arguments.required_string("path"))
        offset = arguments.integer("offset", 1, 1, None)
        limit = arguments.integer("limit", DEFAULT_LIMIT, 1, DEFAULT_LIMIT)
        arguments.done()
        fd = self.scope.open_read(str(path))
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            os.close(fd)
            return _error(f"{_shown(path)} is a directory; list it with glob")
        with os.fdopen(fd, "rb", buffering=65536) as file:
            if b"\x00" in file.read(BINARY_PROBE):
                return _error(f"{_shown(path)} is a binary file ({info.st_size} bytes); not shown")
            file.seek(0)
            page = _page(file, offset, limit, counted=info.st_size <= COUNT_LIMIT)
        self.ledger.record(path, info)
        return page.result(path, offset, info.st_size)

    def _write(self, arguments: Arguments) -> ToolResult:
        self.scope.require(Capability.WRITE)
        path = self.scope.relative(arguments.required_string("path"), write=True)
        data = arguments.required_string("content", nul=True).encode()
        arguments.done()
        if len(data) > MAX_EDIT_BYTES:
            return _error(
                f"content is {len(data)} bytes; write_file takes at most {MAX_EDIT_BYTES}"
            )
        with self.ledger.lock:
            parent, name = self.scope.open_parent(str(path), create=True)
            try:
                existing = _existing(parent, name, path)
                if existing is not None:
                    self.ledger.check(path, existing)
                mode = stat.S_IMODE(existing.st_mode) if existing else None
                self.ledger.record(path, _replace(parent, name, data, mode))
            finally:
                os.close(parent)
        verb = "replaced" if existing else "created"
        return ToolResult(f"{verb} {_shown(path)}: {_lines(data)} lines, {len(data)} bytes")

    def _edit(self, arguments: Arguments) -> ToolResult:
        self.scope.require(Capability.EDIT)
        path = self.scope.relative(arguments.required_string("path"), write=True)
        old = arguments.required_string("old_string", nul=True)
        new = arguments.required_string("new_string", nul=True)
        replace_all = arguments.boolean("replace_all")
        arguments.done()
        if not old:
            return _error("old_string is empty; to create or overwrite a file use write_file")
        if old == new:
            return _error("old_string and new_string are the same; nothing would change")
        with self.ledger.lock:
            parent, name = self.scope.open_parent(str(path), create=False)
            try:
                text, mode, count = self._edited_text(path, old, new, replace_all)
                self.ledger.record(path, _replace(parent, name, text.encode(), mode))
            finally:
                os.close(parent)
        return ToolResult(f"edited {_shown(path)}: replaced {_times(count)}")

    def _edited_text(
        self, path: PurePosixPath, old: str, new: str, replace_all: bool
    ) -> tuple[str, int, int]:
        fd = self.scope.open_read(str(path))
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            os.close(fd)
            raise InvalidRequest(f"{_shown(path)} is a directory")
        with os.fdopen(fd, "rb") as file:
            self.ledger.check(path, info)
            raw = file.read(MAX_EDIT_BYTES + 1)  # bounded even if the file grows meanwhile
        if len(raw) > MAX_EDIT_BYTES:
            raise InvalidRequest(
                f"{_shown(path)} is over {MAX_EDIT_BYTES} bytes; too large to edit"
            )
        if b"\x00" in raw[:BINARY_PROBE]:
            raise InvalidRequest(f"{_shown(path)} is a binary file; edit_file changes text only")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest(f"{_shown(path)} is not UTF-8 text; not edited") from None
        found = text.count(old)
        if found == 0:
            raise InvalidRequest(f"old_string not found in {_shown(path)} (0 matches)")
        if found > 1 and not replace_all:
            raise InvalidRequest(
                f"old_string matches {found} times in {_shown(path)}; "
                "include more context to make it unique, or set replace_all"
            )
        return text.replace(old, new), stat.S_IMODE(info.st_mode), found


@dataclass(frozen=True, slots=True)
class _Page:
    lines: list[str]
    total: int | None  # None when the file was too large to count past the page

    def result(self, path: PurePosixPath, offset: int, size: int) -> ToolResult:
        shown = _shown(path)
        if self.total == 0:
            return ToolResult(f"read {shown}: empty file (0 lines)", "")
        if not self.lines:
            return _error(f"offset {offset} is past the end of {shown} ({self.total} lines)")
        last = offset + len(self.lines) - 1
        of = (
            f"of {self.total}" if self.total is not None else f"of more ({size} bytes, not counted)"
        )
        summary = f"read {shown}: lines {offset}-{last} {of}"
        body = "".join(map(_NUMBERED.format, range(offset, last + 1), self.lines))
        if self.total is None or last < self.total:
            body += f"[… more lines: call read_file again with offset={last + 1}]\n"
        return ToolResult(summary, body)


def _page(file: BinaryIO, offset: int, limit: int, *, counted: bool) -> _Page:
    """Lines ``offset`` to ``offset + limit - 1``, reading no further than they need
    (and, when ``counted``, on to the end only to count the lines left)."""
    lines: list[str] = []
    seen = chars = 0  # lines before this chunk's pieces; characters on the page
    pending = b""  # the start of a line whose end is not read yet, cut to a bound
    while True:
        chunk = file.read(CHUNK)
        pieces = (pending + chunk).split(b"\n") if chunk else [pending] if pending else []
        pending = pieces.pop()[: MAX_LINE_BYTES + 1] if chunk else b""
        index = max(0, offset - 1 - seen)
        while index < len(pieces) and len(lines) < limit and chars < MAX_PAGE_CHARS:
            line = _line(pieces[index])
            lines.append(line)
            chars += len(line) + 8
            index += 1
        if chunk and (len(lines) == limit or chars >= MAX_PAGE_CHARS):
            left = len(pieces) - index + _count_rest(file, pending) if counted else 0
            return _Page(lines, seen + index + left if counted else None)
        seen += len(pieces)
        if not chunk:
            return _Page(lines, seen)


def _line(raw: bytes) -> str:
    text = raw[:MAX_LINE_BYTES].removesuffix(b"\r").decode("utf-8", "replace")
    if len(raw) > MAX_LINE_BYTES or len(text) > MAX_LINE_CHARS:
        return text[:MAX_LINE_CHARS] + " [… line truncated]"
    return text


def _count_rest(file: BinaryIO, pending: bytes) -> int:
    """The lines from ``pending`` (no newline in it) to the end of ``file``."""
    count = 0
    last = pending[-1:] or b"\n"
    while chunk := file.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (last != b"\n")


def _existing(parent: int, name: str, path: PurePosixPath) -> os.stat_result | None:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise InvalidRequest(f"{_shown(path)} is a symbolic link; tools never follow links")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidRequest(f"{_shown(path)} is not a regular file")
    if info.st_nlink > 1:
        raise InvalidRequest(f"{_shown(path)} has {info.st_nlink} hard links; not replaced")
    return info


def _replace(parent: int, name: str, data: bytes, mode: int | None) -> os.stat_result:
    """Write ``data`` to a new file beside ``name`` and rename it over ``name``: a reader
    (or a crash) sees the old file or the new one, never half of either."""
    temporary = f".{name[:80]}.{secrets.token_hex(4)}.yoi-tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o666, dir_fd=parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.rename(temporary, name, src_dir_fd=parent, dst_dir_fd=parent)
        info = os.fstat(fd)  # after the rename, which moves the ctime the ledger compares
    except BaseException:
        with contextlib.suppress(OSError):  # gone already: nothing more to undo
            os.unlink(temporary, dir_fd=parent)
        raise
    finally:
        os.close(fd)
    os.fsync(parent)
    return info


def _lines(data: bytes) -> int:
    return data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))


def _times(count: int) -> str:
    return "1 occurrence" if count == 1 else f"{count} occurrences"


def _shown(path: PurePosixPath) -> str:
    """A path on one line: names with control characters are shown quoted and escaped."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _file_tool(spec: ToolSpec, body: Callable[[Arguments], ToolResult]) -> Tool:
    return BlockingTool(spec, body, quote_names=False, null_is_absent=False)


def _error(summary: str) -> ToolResult:
    return ToolResult(summary, is_error=True)


_PATH = {"type": "string", "description": "A path relative to the workdir."}
READ_FILE = ToolSpec(
    "read_file",
    "Read a text file of the workdir as numbered lines (`     1\\tline`), a page at a time. "
    "Reports the total line count; refuses directories and binary files.",
    {
        "type": "object",
        "properties": {
            "path": _PATH,
            "offset": {"type": "integer", "minimum": 1, "description": "First line, from 1."},
            "limit": {"type": "integer", "minimum": 1, "maximum": DEFAULT_LIMIT},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
)
WRITE_FILE = ToolSpec(
    "write_file",
    "Create a file, or replace the whole of one you have read, atomically.",
    {
        "type": "object",
        "properties": {"path": _PATH, "content": {"type": "string"}},
        "required": ["path", "content"],
        "additionalProperties": False,
    },
)
EDIT_FILE = ToolSpec(
    "edit_file",
    "Replace old_string by new_string in a file you have read. old_string must match "
    "exactly once, unless replace_all is true.",
    {
        "type": "object",
        "properties": {
            "path": _PATH,
            "old_string": {"type": "string"},
            "new_string": {"type": "string"},
            "replace_all": {"type": "boolean", "default": False},
        },
        "required": ["path", "old_string", "new_string"],
        "additionalProperties": False,
    },
)
