"""One ticket's folder: reading its files and writing them the crash-safe way.

Only a validated id becomes a path, and a folder (or ``artifacts/``) that is
a symbolic link is refused before anything is read or written, so nothing
can reach outside ``.yoi/tickets/``.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from yoi.errors import TicketNotFound, TicketUnreadable
from yoi.tickets.files import FileProblem, append_text, read_text, truncate, write_atomic
from yoi.tickets.frontmatter import FrontMatterError, Item, Value, parse_item, set_fields
from yoi.tickets.ids import ticket_id as checked_id
from yoi.tickets.index import ITEM_LIMIT, RELATIONS_LIMIT
from yoi.tickets.plans import PlanFile, parse_plans
from yoi.tickets.relations import RelationFile, parse_relations, render_relations
from yoi.tickets.thread import Thread, parse_thread

__all__ = ["STAGING", "TicketFolder", "staging_name"]

THREAD_LIMIT = 64 * 1024 * 1024
PLAN_LIMIT = 16 * 1024 * 1024
RESOLUTION_LIMIT = 4 * 1024 * 1024
STAGING = re.compile(r"\.new-[0-9A-Z]{13}-[0-9a-f]{8}")
"""A new ticket's folder while it is built; only a writer killed mid-way leaves one."""
STAGING_IGNORE = ".new-*/"
"""The ``.gitignore`` pattern, relative to the store root, that keeps them out of git."""


def staging_name(ticket_id: str) -> str:
    return f".new-{checked_id(ticket_id)}-{secrets.token_hex(4)}"


class TicketFolder:
    def __init__(self, root: Path, ticket_id: str) -> None:
        self.id = checked_id(ticket_id)
        self.path = root / self.id

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    def check(self) -> None:
        """Raise unless this is a real ticket folder holding ``item.md``."""
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            raise TicketNotFound(f"no ticket {self.id}", details={"ticket_id": self.id}) from None
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise self._unreadable("is not a real folder (a symbolic link or a file)")
        try:
            item = os.lstat(self.path / "item.md").st_mode
        except FileNotFoundError:
            raise TicketNotFound(f"no ticket {self.id}", details={"ticket_id": self.id}) from None
        if not stat.S_ISREG(item):
            raise self._unreadable("has an item.md that is not a regular file")

    @property
    def artifacts_linked(self) -> bool:
        """``artifacts/`` is a symbolic link: nothing is read or written through it."""
        return self.artifacts.is_symlink()

    def item(self) -> tuple[str, Item]:
        text = self._read("item.md", ITEM_LIMIT)
        try:
            return text, parse_item(text)
        except FrontMatterError as error:
            raise self._unreadable(str(error)) from None

    def thread(self) -> Thread:
        return parse_thread(self._read_optional("thread.md", THREAD_LIMIT))

    def relations(self) -> RelationFile:
        if self.artifacts_linked:
            return RelationFile((), ("artifacts/ is a symbolic link; its files are not read",))
        return parse_relations(
            self._read_optional("artifacts/relations.json", RELATIONS_LIMIT) or '{"relations": []}',
            self.id,
        )

    def plans(self) -> PlanFile:
        if self.artifacts_linked:
            return PlanFile((), (), 0)
        return parse_plans(
            self._read_optional("artifacts/orchestration-plan.jsonl", PLAN_LIMIT), self.id
        )

    def resolution(self) -> str | None:
        if not (self.path / "resolution.md").exists():
            return None
        return self._read("resolution.md", RESOLUTION_LIMIT)

    def artifact_names(self) -> list[str]:
        if self.artifacts_linked:
            return []
        try:
            with os.scandir(self.artifacts) as entries:
                return sorted(
                    e.name
                    for e in entries
                    if not e.name.startswith(".") and e.is_file(follow_symlinks=False)
                )
        except (FileNotFoundError, NotADirectoryError):
            return []

    def write_fields(self, text: str, updates: Mapping[str, Value]) -> str:
        try:
            changed = set_fields(text, updates)
        except FrontMatterError as error:
            raise self._unreadable(str(error)) from None
        write_atomic(self.path / "item.md", changed)
        return changed

    @contextmanager
    def undone_on_failure(self) -> Iterator[None]:
        """A change that fails part-way cuts the logs back to where it found them, so an event
        appended before a refused front matter write does not stay as if it had happened."""
        logs = [self.path / "thread.md"]
        if not self.artifacts_linked:
            logs.append(self.artifacts / "orchestration-plan.jsonl")
        sizes = [(path, _size(path)) for path in logs]
        try:
            yield
        except BaseException:
            for path, size in sizes:
                if size is not None:
                    truncate(path, size)
            raise

    def append_events(self, blocks: Sequence[str]) -> None:
        path = self.path / "thread.md"
        append_text(path, _separator(path) + "\n".join(blocks))

    def write_relations(self, relations: RelationFile) -> None:
        self.ensure_artifacts()
        write_atomic(self.artifacts / "relations.json", render_relations(relations.relations))

    def append_plan(self, line: str) -> None:
        self.ensure_artifacts()
        path = self.artifacts / "orchestration-plan.jsonl"
        append_text(path, _separator(path, blank=False) + line)

    def write_resolution(self, text: str) -> None:
        write_atomic(self.path / "resolution.md", text if text.endswith("\n") else text + "\n")

    def ensure_artifacts(self) -> None:
        try:
            mode = os.lstat(self.artifacts).st_mode
        except FileNotFoundError:
            self.artifacts.mkdir()
            (self.artifacts / ".gitkeep").touch()
            return
        if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
            raise self._unreadable("has an artifacts entry that is not a real folder")

    def _read(self, name: str, limit: int) -> str:
        try:
            return read_text(self.path / name, limit=limit, name=f"{self.id}/{name}")
        except FileNotFoundError:
            raise self._unreadable(f"has no {name}") from None
        except FileProblem as error:
            raise self._unreadable(str(error)) from None

    def _read_optional(self, name: str, limit: int) -> str:
        try:
            return self._read(name, limit)
        except TicketUnreadable:
            if not (self.path / name).exists() and not (self.path / name).is_symlink():
                return ""
            raise

    def _unreadable(self, problem: str) -> TicketUnreadable:
        message = problem if problem.startswith(self.id) else f"{self.id} {problem}"
        return TicketUnreadable(message, details={"ticket_id": self.id})


def _size(path: Path) -> int | None:
    """The size of a regular file; ``None`` for a missing file or anything else."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _separator(path: Path, *, blank: bool = True) -> str:
    """What goes before an appended block so it starts on a fresh line (after a blank one)."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            if size == 0:
                return ""
            file.seek(-1, os.SEEK_END)
            last = file.read(1)
    except FileNotFoundError:
        return ""
    newline = "" if last == b"\n" else "\n"
    return newline + ("\n" if blank else "")
