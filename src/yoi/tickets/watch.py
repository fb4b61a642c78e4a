"""A change feed from inotify: a long-running process learns which tickets changed for free.

:class:`~yoi.tickets.index.TicketIndex` brings its cache up to date before
each read. By default it compares every file's signature, one ``stat`` per
file: over 100 ms for ten thousand tickets. An :class:`InotifyFeed` asks the
kernel instead, which queues an event before the writing system call
returns; so draining the queue (without blocking) at the start of a read sees
every change completed before it, by any process: an editor, git checkout,
merge or rebase, another yoi.

The feed watches the store root (entries appearing, leaving or renamed),
each ticket folder and each ticket's ``artifacts/``, and names the tickets
under which anything happened. Names in the root that are not ticket ids
(staging folders ``.new-*``, the lock file) are ignored; a staging folder
renamed to its ticket id arrives as that id appearing. Whenever the feed
cannot say exactly what changed it answers ``None`` and the index rescans
everything, so it is never wrong, only slower:

- on the first drain (the index has not read anything yet);
- after the kernel's queue overflowed (it then watches everything afresh);
- while the root is missing, and when it was deleted, moved or replaced,
  also by renaming a folder above it (each drain compares the root's inode
  with the one watched: one ``stat``); it watches again once the root is back;
- for good, once the kernel refuses a watch (``ENOSPC``: the per-user limit
  ``fs.inotify.max_user_watches``) or anything else goes wrong.

:func:`open_feed` answers ``None`` where inotify cannot work at all (not
Linux, no inotify instance left, the watch limit reached at start); the
index then checks signatures. Symbolic links are never followed below the
root, as the index never reads through them: a ticket folder that is a link
is reported when it appears or goes, and is never watched.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType

from yoi.tickets.ids import is_ticket_id

__all__ = [
    "IN_CREATE",
    "IN_DELETE",
    "IN_ISDIR",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_Q_OVERFLOW",
    "InotifyEvent",
    "InotifyFeed",
    "open_feed",
    "parse_events",
]

# From <sys/inotify.h>.
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_ISDIR = 0x40000000

_HEADER = struct.Struct("=iIII")  # int wd; uint32_t mask, cookie, len; then char name[len]
_APPEARED = IN_CREATE | IN_MOVED_TO
_LEFT = IN_DELETE | IN_MOVED_FROM
_SELF = IN_DELETE_SELF | IN_MOVE_SELF
_ROOT_MASK = _APPEARED | _LEFT | _SELF | IN_ONLYDIR
_ROOT_GONE = _SELF | IN_IGNORED | IN_UNMOUNT
_FOLDER_MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | _APPEARED | _LEFT | _SELF | IN_ONLYDIR | IN_DONT_FOLLOW
)
_READ_SIZE = 64 * 1024
_ARTIFACTS = "artifacts"
Identity = tuple[int, int]


@dataclass(frozen=True, slots=True)
class InotifyEvent:
    """One ``struct inotify_event``; ``name`` is empty for an event on the watched folder itself."""

    wd: int
    mask: int
    cookie: int
    name: str


def parse_events(data: bytes) -> list[InotifyEvent]:
    """The events in the bytes of one ``read`` (the kernel never splits an event across reads)."""
    events: list[InotifyEvent] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise ValueError(f"an inotify event header is cut short at byte {offset}")
        wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        if offset + length > len(data):
            raise ValueError(f"an inotify event name is cut short at byte {offset}")
        name = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        events.append(InotifyEvent(wd, mask, cookie, os.fsdecode(name)))
    return events


class _Inotify:
    """One inotify instance through libc; every failure is an :class:`OSError` with its errno."""

    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise OSError(errno.ENOSYS, "inotify exists only on Linux")
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._init1 = libc.inotify_init1
            self._add_watch = libc.inotify_add_watch
            self._rm_watch = libc.inotify_rm_watch
        except (OSError, AttributeError):
            raise OSError(errno.ENOSYS, "this C library has no inotify") from None
        self._init1.argtypes = [ctypes.c_int]
        self._add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        # IN_NONBLOCK and IN_CLOEXEC are defined as O_NONBLOCK and O_CLOEXEC.
        self.fd = _checked(self._init1(os.O_NONBLOCK | os.O_CLOEXEC))

    def add(self, path: Path, mask: int) -> int:
        return _checked(self._add_watch(self.fd, os.fsencode(path), mask))

    def remove(self, wd: int) -> None:
        """Stop a watch; one the kernel already dropped (``EINVAL``) is simply gone."""
        self._rm_watch(self.fd, wd)

    def read(self) -> bytes:
        """What is queued now; empty when nothing is."""
        try:
            return os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        os.close(self.fd)


def _checked(result: int) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


class _Kind(Enum):
    ROOT = "root"
    FOLDER = "folder"
    ARTIFACTS = "artifacts"


@dataclass(frozen=True, slots=True)
class _Watch:
    kind: _Kind
    ticket_id: str = ""


class InotifyFeed:
    """The ids of the tickets changed since the last drain, from the kernel's queue.

    Watches are added for every ticket folder present when it opens (ten
    thousand tickets, twenty thousand watches: about 0.1 s). Raises
    :class:`OSError` when inotify cannot start; :func:`open_feed` turns that
    into ``None``. Not thread-safe: the index drains it under its own lock.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._inotify: _Inotify | None = _Inotify()
        self._watches: dict[int, _Watch] = {}
        self._folders: dict[str, int] = {}
        self._artifacts: dict[str, int] = {}
        self._identity: Identity | None = None
        self._fresh = True
        try:
            self._establish()
        except OSError:
            self.close()
            raise

    def drain(self) -> set[str] | None:
        """The ids changed since the last drain; ``None`` when anything may have changed."""
        if self._inotify is None:
            return None
        try:
            changed = self._pending()
            if changed is None or self._identity is None or self._identity != _identity(self._root):
                self._restart()
                changed = None
        except OSError:
            self.close()
            return None
        fresh, self._fresh = self._fresh, False
        return None if fresh else changed

    def close(self) -> None:
        """Release the descriptor and every watch; each later drain answers ``None``."""
        inotify, self._inotify = self._inotify, None
        self._watches.clear()
        self._folders.clear()
        self._artifacts.clear()
        if inotify is not None:
            inotify.close()

    def __enter__(self) -> InotifyFeed:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _live(self) -> _Inotify:
        assert self._inotify is not None
        return self._inotify

    def _restart(self) -> None:
        """Watch everything afresh: a new instance drops every old watch at once."""
        if self._watches:
            self.close()
            self._inotify = _Inotify()
        self._identity = None
        self._establish()

    def _establish(self) -> None:
        """Watch the root, then each ticket folder in it: a folder made meanwhile is seen twice,
        never missed. The root's inode is taken before its watch, so a root replaced in between
        fails the next drain's comparison."""
        identity = _identity(self._root)
        if identity is None:
            return
        try:
            wd = self._live().add(self._root, _ROOT_MASK)
        except (FileNotFoundError, NotADirectoryError):
            return
        self._watches[wd] = _Watch(_Kind.ROOT)
        self._identity = identity
        for name in _ticket_names(self._root):
            self._watch_folder(name)

    def _pending(self) -> set[str] | None:
        changed: set[str] = set()
        while data := self._live().read():
            for event in parse_events(data):
                if not self._apply(event, changed):
                    return None
        return changed

    def _apply(self, event: InotifyEvent, changed: set[str]) -> bool:
        """Note what ``event`` changed; ``False`` when only a rescan can tell."""
        if event.mask & IN_Q_OVERFLOW:
            return False
        watch = self._watches.get(event.wd)
        if watch is None:
            return True  # queued before we stopped watching
        if watch.kind is _Kind.ROOT:
            return self._apply_root(event, changed)
        changed.add(watch.ticket_id)
        if event.mask & IN_IGNORED:
            self._forget(event.wd, watch)
        elif watch.kind is _Kind.FOLDER and event.name == _ARTIFACTS:
            if event.mask & _APPEARED:
                self._watch_artifacts(watch.ticket_id)
            elif event.mask & _LEFT:
                self._unwatch(self._artifacts, watch.ticket_id)
        return True

    def _apply_root(self, event: InotifyEvent, changed: set[str]) -> bool:
        if event.mask & _ROOT_GONE:
            return False
        if not is_ticket_id(event.name):
            return True
        changed.add(event.name)
        if event.mask & _LEFT:
            self._unwatch(self._artifacts, event.name)
            self._unwatch(self._folders, event.name)
        elif event.mask & _APPEARED:
            self._watch_folder(event.name)
        return True

    def _watch_folder(self, ticket_id: str) -> None:
        self._unwatch(self._artifacts, ticket_id)
        self._unwatch(self._folders, ticket_id)
        wd = self._add(self._root / ticket_id, _Watch(_Kind.FOLDER, ticket_id))
        if wd is not None:
            self._folders[ticket_id] = wd
            self._watch_artifacts(ticket_id)

    def _watch_artifacts(self, ticket_id: str) -> None:
        self._unwatch(self._artifacts, ticket_id)
        path = self._root / ticket_id / _ARTIFACTS
        wd = self._add(path, _Watch(_Kind.ARTIFACTS, ticket_id))
        if wd is not None:
            self._artifacts[ticket_id] = wd

    def _add(self, path: Path, watch: _Watch) -> int | None:
        """Watch ``path``; ``None`` when it is gone or is not a real folder. Any other refusal
        (``ENOSPC`` above all) raises: the feed can no longer see everything."""
        try:
            wd = self._live().add(path, _FOLDER_MASK)
        except (FileNotFoundError, NotADirectoryError):
            return None
        self._watches[wd] = watch
        return wd

    def _unwatch(self, table: dict[str, int], ticket_id: str) -> None:
        wd = table.pop(ticket_id, None)
        if wd is not None:
            self._watches.pop(wd, None)
            self._live().remove(wd)

    def _forget(self, wd: int, watch: _Watch) -> None:
        """The kernel dropped ``wd`` (its folder was deleted); a newer watch may hold the name."""
        del self._watches[wd]
        for table in (self._folders, self._artifacts):
            if table.get(watch.ticket_id) == wd:
                del table[watch.ticket_id]


def open_feed(root: Path) -> InotifyFeed | None:
    """A feed for the store at ``root`` (which may not exist yet), or ``None`` where inotify
    cannot work; the index then checks every file's signature instead."""
    try:
        return InotifyFeed(root)
    except OSError:
        return None


def _identity(root: Path) -> Identity | None:
    try:
        stat = os.stat(root)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_dev, stat.st_ino)


def _ticket_names(root: Path) -> list[str]:
    try:
        with os.scandir(root) as entries:
            return [entry.name for entry in entries if is_ticket_id(entry.name)]
    except (FileNotFoundError, NotADirectoryError):
        return []
