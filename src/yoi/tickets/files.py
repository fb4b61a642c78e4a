"""Crash-safe file primitives for the ticket store.

Snapshots (``item.md``, ``relations.json``, ``resolution.md``) are replaced
by an fsync'd temporary file and a rename; logs (``thread.md``,
``orchestration-plan.jsonl``) take fsync'd appends, cut back when refused. Nothing follows a
symbolic link: a link planted in the store can neither be read through nor
written through. Reads are bounded so a huge file costs an error, not memory.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

__all__ = ["FileProblem", "append_text", "fsync_dir", "read_text", "truncate", "write_atomic"]

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


class FileProblem(ValueError):
    """A ticket file that cannot be read as text: too big, not UTF-8, a link, or unreadable."""


def read_text(path: Path, *, limit: int, name: str) -> str:
    """The UTF-8 text of ``path``; ``name`` is how messages call it (never an absolute path)."""
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise FileProblem(f"{name} cannot be opened ({error.strerror})") from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise FileProblem(f"{name} is not a regular file")
        size = status.st_size
        if size > limit:
            raise FileProblem(f"{name} is {size:,} bytes; the limit is {limit:,}")
        data = file.read(limit + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileProblem(f"{name} is not UTF-8 (byte {error.start:,})") from None


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new one, never a mix."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(text.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def append_text(path: Path, text: str) -> None:
    """Append ``text`` and fsync it; a new file's folder is fsync'd too.

    A write refused part-way (a full disk, a file size limit) is taken back:
    the file is cut to where the append began, so no half block is left to
    be read, or completed by the next append, as if it were whole.
    """
    created = not path.exists()
    descriptor = os.open(path, _APPEND_FLAGS, 0o644)
    try:
        start = os.fstat(descriptor).st_size
        try:
            _write_all(descriptor, text.encode("utf-8"))
            os.fsync(descriptor)
        except BaseException:
            _cut(descriptor, start)
            raise
    finally:
        os.close(descriptor)
    if created:
        fsync_dir(path.parent)


def truncate(path: Path, size: int) -> None:
    """Cut ``path`` back to ``size`` bytes if it grew past them (a change being undone)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if os.fstat(descriptor).st_size > size:
            _cut(descriptor, size)
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _cut(descriptor: int, size: int) -> None:
    """Best effort: when even this fails, the doctor reports the torn tail left behind."""
    try:
        os.ftruncate(descriptor, size)
        os.fsync(descriptor)
    except OSError:
        pass


def fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
