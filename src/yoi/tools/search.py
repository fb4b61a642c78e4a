"""The search tools: ``glob`` and ``list_files`` (file names) and ``grep`` (contents), on ripgrep.

Each opens the directory (or file) it searches through its :class:`Scope`, so a path is
refused before ``rg`` starts when it leaves the workdir or the grant, or passes through a
symbolic link; ``rg`` itself never follows links and honours ``.gitignore``. A model's
pattern or glob reaches ``rg`` only glued to its option (``--regexp=…``, ``--glob=…``), so
it can never be read as another option, and the search path is always ``.`` after ``--``.
Hidden files are searched, ``.git`` never. Results are bounded and say what they left out.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from yoi.engine.tool import ToolResult
from yoi.errors import YoiError
from yoi.tools._arguments import ArgumentError, Arguments
from yoi.tools._matches import Matches, Names, display, one_line
from yoi.tools._ripgrep import Finished, Ripgrep, RipgrepMissing
from yoi.tools.scope import Capability, Scope

__all__ = ["GlobTool", "GrepTool", "ListFilesTool", "SearchLimits"]

_COMMON = ("--hidden", "--no-ignore-global", "--color=never", "--null")
_NO_GIT = "--glob=!.git"
_MODES = ("content", "files", "count")


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """Bounds on one search: ``entries`` and ``matches`` are defaults a call may lower or
    raise up to the ``max_`` ceilings; ``characters`` bounds the content of a result."""

    entries: int = 200
    max_entries: int = 2000
    matches: int = 100
    max_matches: int = 1000
    characters: int = 20_000
    max_context: int = 10
    line_columns: int = 500
    timeout: float = 30.0
    listed: int = 1_000_000  # file names a listing keeps (to sort by time, to filter)


class _Sink(Protocol):
    def feed(self, chunk: bytes) -> None: ...


class _Refused(Exception):
    """A call that cannot be carried out; its message becomes the error result's summary
    and ``detail`` (rg's whole message, say) its content."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class _SearchTool:
    name: str
    capability: Capability

    def __init__(
        self, scope: Scope, ripgrep: Ripgrep | None = None, limits: SearchLimits | None = None
    ) -> None:
        self._scope = scope
        self._ripgrep = ripgrep or Ripgrep.find()
        self._limits = limits or SearchLimits()

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        result = await self._guarded(arguments)
        return ToolResult(one_line(result.summary), result.content, result.is_error)

    async def _guarded(self, arguments: Mapping[str, object]) -> ToolResult:
        try:
            self._scope.require(self.capability)
            return await self._call(Arguments(arguments))
        except _Refused as error:
            return ToolResult(f"{self.name}: {error}", error.detail, is_error=True)
        except (ArgumentError, RipgrepMissing) as error:
            return ToolResult(f"{self.name}: {error}", is_error=True)
        except YoiError as error:
            return ToolResult(f"{self.name}: {error.message}", is_error=True)

    async def _call(self, arguments: Arguments) -> ToolResult:
        raise NotImplementedError

    def _open(self, path: str) -> tuple[PurePosixPath, int, bool]:
        """(normalised path, descriptor, is a directory) for ``path`` through the scope."""
        relative = self._scope.relative(path)
        fd = self._scope.open_read(path)
        return relative, fd, stat.S_ISDIR(os.fstat(fd).st_mode)

    async def _files(self, directory: int, options: list[str]) -> tuple[Names, Finished]:
        names = Names(self._limits.listed)
        arguments = ["--files", *_COMMON, *options, _NO_GIT, "--", "."]
        return names, await self._run(arguments, directory, None, names)

    async def _honoured(self, directory: int, glob: str) -> tuple[Names, Finished]:
        """``rg --files --glob`` with the files that glob re-included filtered out again.

        A glob overrides ``.gitignore`` in ``rg`` (``*.log`` would list an ignored
        ``debug.log``), so what the glob finds is checked against a plain listing."""
        (found, finished), (honoured, _) = await asyncio.gather(
            self._files(directory, [f"--glob={glob}"]), self._files(directory, [])
        )
        found.keep_only(frozenset(honoured.names))
        return found, finished

    async def _run(
        self, arguments: list[str], directory: int | None, stdin: int | None, sink: _Sink
    ) -> Finished:
        return await self._ripgrep.run(
            arguments,
            directory=directory,
            stdin=stdin,
            seconds=self._limits.timeout,
            sink=sink.feed,
        )


def _failure(finished: Finished) -> str | None:
    """Why ``rg`` failed, or ``None`` when it exited 0 (found) or 1 (found nothing)."""
    if finished.timed_out or finished.returncode in (0, 1):
        return None
    lines = [line for line in finished.stderr.splitlines() if line.strip()]
    last = lines[-1].removeprefix("rg: ").strip() if lines else ""
    return last or f"rg exited with status {finished.returncode}"


def _refusal(problem: str, finished: Finished) -> _Refused:
    return _Refused(f"failed: {problem}", finished.stderr.removeprefix("rg: ") or None)


class _Listing(_SearchTool):
    """Files under a directory, newest first."""

    capability = Capability.GLOB

    async def _list(self, path: str, glob: str | None, depth: int | None, limit: int) -> ToolResult:
        relative, fd, directory = self._open(path)
        try:
            if not directory:
                raise _Refused(f"{relative} is not a directory")
            if glob is not None:
                names, finished = await self._honoured(fd, glob)
            else:
                names, finished = await self._files(fd, [f"--max-depth={depth}"] if depth else [])
            entries = _newest_first(fd, names.names)
        finally:
            os.close(fd)
        problem = _failure(finished)
        if problem is not None and not entries:
            raise _refusal(problem, finished)
        shown = [display(raw, relative) for raw, _ in entries[:limit]]
        return _listing_result(shown, names.total, finished, relative)


def _newest_first(directory: int, names: list[bytes]) -> list[tuple[bytes, float]]:
    timed: list[tuple[bytes, float]] = []
    for raw in names:
        try:
            info = os.stat(raw, dir_fd=directory, follow_symlinks=False)
        except OSError:
            continue  # gone since rg listed it
        timed.append((raw, info.st_mtime))
    timed.sort(key=lambda item: (-item[1], item[0]))
    return timed


def _listing_result(
    shown: list[str], total: int, finished: Finished, where: PurePosixPath
) -> ToolResult:
    if not shown:
        summary = f"no files in {where}" + (" (timed out)" if finished.timed_out else "")
        return ToolResult(summary, summary)
    more = total - len(shown)
    summary = f"{len(shown)} file(s) in {where}, newest first"
    notes = []
    if more > 0:
        notes.append(f"{more} more not shown")
    if finished.timed_out:
        notes.append("the search timed out; the list is incomplete")
    if notes:
        summary += f" ({'; '.join(notes)})"
    return ToolResult(summary, "\n".join(shown) + f"\n[{summary}]")


class GlobTool(_Listing):
    name = "glob"
    description = (
        "Find files by glob pattern (like src/**/*.py; a pattern without '/' matches a file "
        "name at any depth), relative to `path` (default: the workdir). Newest first, "
        "bounded; files ignored by .gitignore and the .git folder are left out; symbolic "
        "links are never followed."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "glob, e.g. src/**/*.py"},
            "path": {"type": "string", "description": "directory to search, default '.'"},
            "limit": {"type": "integer", "minimum": 1, "description": "entries shown"},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        pattern = arguments.glob("pattern", required=True)
        path = arguments.string("path", default=".")
        limit = arguments.integer("limit", self._limits.entries, 1, self._limits.max_entries)
        arguments.done()
        return await self._list(path, pattern, None, limit)


class ListFilesTool(_Listing):
    name = "list_files"
    description = (
        "List the files under a directory (default: the workdir), newest first, bounded; "
        "`depth` 1 lists only the directory's own files. Files ignored by .gitignore and "
        "the .git folder are left out."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "directory, default '.'"},
            "depth": {"type": "integer", "minimum": 1, "description": "levels to descend"},
            "limit": {"type": "integer", "minimum": 1, "description": "entries shown"},
        },
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        path = arguments.string("path", default=".")
        depth = arguments.optional_integer("depth", 1, 1_000)
        limit = arguments.integer("limit", self._limits.entries, 1, self._limits.max_entries)
        arguments.done()
        return await self._list(path, None, depth, limit)


@dataclass(frozen=True, slots=True)
class _GrepQuery:
    pattern: str
    path: str
    glob: str | None
    context: int
    ignore_case: bool
    literal: bool
    output: str
    limit: int

    def options(self, columns: int) -> list[str]:
        options = [*_COMMON]
        if self.glob is not None:
            options.append(f"--glob={self.glob}")
        options.append(_NO_GIT)
        if self.ignore_case:
            options.append("--ignore-case")
        if self.literal:
            options.append("--fixed-strings")
        if self.output == "files":
            options.append("--files-with-matches")
        elif self.output == "count":
            options.append("--count")
        else:
            options += ["--line-number", "--with-filename", "--no-heading"]
            options += [f"--max-columns={columns}", "--max-columns-preview"]
            options += [f"--context={self.context}", "--no-context-separator"]
        return [*options, f"--regexp={self.pattern}"]


class GrepTool(_SearchTool):
    name = "grep"
    capability = Capability.GREP
    description = (
        "Search file contents with a regular expression (ripgrep syntax). Optional `path` "
        "(file or directory, default the workdir), `glob` filter on a directory's files "
        "(*.py; !x.js excludes), `context` lines, `ignore_case`, `literal` (plain text). "
        "`output`: 'content' (matching lines with numbers), 'files' (paths only) or 'count' "
        "(matching lines per file). Bounded by `limit`; says what it left out. Respects "
        ".gitignore; never follows symbolic links."
    )
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "regular expression (rg syntax)"},
            "path": {"type": "string", "description": "file or directory, default '.'"},
            "glob": {"type": "string", "description": "only files matching this glob"},
            "context": {"type": "integer", "minimum": 0, "description": "lines around"},
            "ignore_case": {"type": "boolean"},
            "literal": {"type": "boolean", "description": "match the pattern as plain text"},
            "output": {"type": "string", "enum": list(_MODES)},
            "limit": {"type": "integer", "minimum": 1, "description": "lines/files shown"},
        },
        "required": ["pattern"],
        "additionalProperties": False,
    }

    async def _call(self, arguments: Arguments) -> ToolResult:
        query = self._query(arguments)
        relative, fd, directory = self._open(query.path)
        try:
            if not directory and query.glob is not None:
                raise _Refused(f"{relative} is a file; 'glob' filters the files of a directory")
            allowed = None
            if directory and query.glob is not None:  # the glob must not re-include ignored files
                honoured, _ = await self._files(fd, [])
                allowed = frozenset(honoured.names)
            matches = Matches(query.output, query.limit, self._limits.characters, allowed)
            options = query.options(self._limits.line_columns)
            if directory:
                finished = await self._run([*options, "--", "."], fd, None, matches)
            else:
                finished = await self._run([*options, "--", "-"], None, fd, matches)
            skipped = matches.drop_linked(fd if directory else None)
        finally:
            os.close(fd)
        problem = _failure(finished)
        if problem is not None and not matches.shown:
            raise _refusal(problem, finished)
        prefix = relative if directory else None
        file_name = None if directory else str(relative)
        return matches.result(prefix, file_name, finished.timed_out, problem, skipped)

    def _query(self, arguments: Arguments) -> _GrepQuery:
        limits = self._limits
        query = _GrepQuery(
            pattern=arguments.required_string("pattern"),
            path=arguments.string("path", default="."),
            glob=arguments.glob("glob", required=False, negatable=True),
            context=arguments.integer("context", 0, 0, limits.max_context),
            ignore_case=arguments.boolean("ignore_case"),
            literal=arguments.boolean("literal"),
            output=arguments.choice("output", _MODES),
            limit=arguments.integer("limit", limits.matches, 1, limits.max_matches),
        )
        arguments.done()
        return query
