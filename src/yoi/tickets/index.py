"""A read cache of every ticket's front matter and relations; the files stay the truth.

Each read first brings the cache up to date, so an edit made by hand or by
git (checkout, merge, rebase) is seen on the next read. How it learns what
changed is a :class:`ChangeFeed`: by default it compares each file's
``(inode, size, mtime, ctime)`` with what it saw; a long-running process
can attach a watcher (:mod:`yoi.tickets.watch`) that names exactly the
tickets that changed, so a read costs no file system calls at all.

A file modified within the last two seconds is never trusted by signature
(timestamps are coarser than writes; git calls this "racily clean"): it is
read again until it settles. The persistent copy (``.yoi/state/``) lets a
fresh ``yoi ticket list`` skip parsing ten thousand files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from yoi.tickets.files import FileProblem, read_text, write_atomic
from yoi.tickets.frontmatter import FrontMatterError, parse_item
from yoi.tickets.ids import is_ticket_id
from yoi.tickets.model import Meta, Relation, RelationKind, State
from yoi.tickets.relations import parse_relations

__all__ = ["Catalog", "ChangeFeed", "TicketIndex"]

ITEM_LIMIT = 4 * 1024 * 1024
RELATIONS_LIMIT = 4 * 1024 * 1024
_RACY_NS = 2_000_000_000
_CACHE_VERSION = 1
Signature = tuple[int, int, int, int]
_UNTRUSTED: Signature = (-1, -1, -1, -1)
_STATES = {state.value: state for state in State}


class ChangeFeed(Protocol):
    def drain(self) -> set[str] | None:
        """The ids changed since the last drain; ``None`` when anything may have changed."""


@dataclass(frozen=True, slots=True)
class Catalog:
    """What every ticket says, as of one refresh."""

    metas: Mapping[str, Meta]
    invalid: Mapping[str, str]
    relations: Mapping[str, tuple[Relation, ...]] = field(default_factory=dict)

    def states(self) -> dict[str, State]:
        return {ticket_id: meta.state for ticket_id, meta in self.metas.items()}


@dataclass(slots=True)
class _Item:
    signature: Signature | None
    meta: Meta | None
    problem: str | None


@dataclass(slots=True)
class _Relations:
    signature: Signature | None
    relations: tuple[Relation, ...]


class TicketIndex:
    def __init__(self, root: Path, *, cache_file: Path | None = None) -> None:
        self._root = root
        self._cache_file = cache_file
        self._items: dict[str, _Item] = {}
        self._relations: dict[str, _Relations] = {}
        self._loaded = False
        self._dirty = False
        self._feed: ChangeFeed | None = None
        self._relations_stale = False
        """A rescan skipped relations: a feed's drains no longer cover them."""
        self._lock = threading.Lock()

    def attach(self, feed: ChangeFeed | None) -> None:
        """Learn changes from ``feed`` instead of checking every file's signature."""
        with self._lock:
            self._feed = feed

    def catalog(self, *, relations: bool = True) -> Catalog:
        with self._lock:
            self._load()
            changed = self._feed.drain() if self._feed is not None else None
            if changed is None or (relations and self._relations_stale):
                self._rescan(relations)
                self._relations_stale = not relations
            else:
                self._refresh(changed)
            self._save()
            return self._snapshot(relations)

    def _snapshot(self, relations: bool) -> Catalog:
        metas = {key: item.meta for key, item in self._items.items() if item.meta is not None}
        invalid = {key: item.problem for key, item in self._items.items() if item.problem}
        owned = {key: entry.relations for key, entry in self._relations.items() if entry.relations}
        return Catalog(metas, invalid, owned if relations else {})

    def _rescan(self, relations: bool) -> None:
        present = _ticket_folders(self._root)
        for gone in set(self._items) - set(present):
            self._forget(gone)
        try:
            root = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        try:
            for ticket_id, linked in sorted(present.items()):
                if self._check_item(ticket_id, linked=linked, root=root) and relations:
                    self._check_relations(ticket_id, root=root)
        finally:
            os.close(root)

    def _refresh(self, changed: set[str]) -> None:
        if not self._items and not self._relations:
            self._rescan(True)
            return
        for ticket_id in changed:
            self._items.pop(ticket_id, None)
            self._relations.pop(ticket_id, None)
            folder = self._root / ticket_id
            linked = folder.is_symlink()
            if (linked or folder.is_dir()) and self._check_item(ticket_id, linked=linked):
                self._check_relations(ticket_id)

    def _check_item(self, ticket_id: str, *, linked: bool, root: int | None = None) -> bool:
        """Bring one item up to date; ``False`` when the folder holds no readable ticket.

        ``root`` is an open descriptor of the store folder: a scan of ten
        thousand tickets stats relative to it, without building paths.
        """
        if linked:
            problem = f"{ticket_id} is a symbolic link; a ticket folder must be a real folder"
            self._items[ticket_id] = _Item(_UNTRUSTED, None, problem)
            return False
        try:
            signature = _signature(f"{ticket_id}/item.md", root, self._root)
        except (FileNotFoundError, NotADirectoryError):
            self._forget(ticket_id)
            return False
        known = self._items.get(ticket_id)
        if known is not None and signature != _UNTRUSTED and known.signature == signature:
            return known.meta is not None
        path = self._root / ticket_id / "item.md"
        self._items[ticket_id] = _read_item(path, ticket_id, signature)
        self._dirty = True
        return self._items[ticket_id].meta is not None

    def _forget(self, ticket_id: str) -> None:
        if self._items.pop(ticket_id, None) is not None:
            self._dirty = True
        self._relations.pop(ticket_id, None)

    def _check_relations(self, ticket_id: str, *, root: int | None = None) -> None:
        name = f"{ticket_id}/artifacts/relations.json"
        try:
            signature: Signature | None = _signature(name, root, self._root)
        except (FileNotFoundError, NotADirectoryError):
            signature = None
        known = self._relations.get(ticket_id)
        if known is not None and signature != _UNTRUSTED and known.signature == signature:
            return
        path = self._root / name
        self._relations[ticket_id] = _read_relations(path, ticket_id, signature)
        self._dirty = True

    def _load(self) -> None:
        if self._loaded or self._cache_file is None:
            return
        self._loaded = True
        try:
            document = json.loads(self._cache_file.read_text(encoding="utf-8"))
            if document.get("version") != _CACHE_VERSION:
                return
            for ticket_id, entry in document["items"].items():
                self._items[ticket_id] = _Item(tuple(entry[0]), _meta_of(entry[1]), None)
            for ticket_id, entry in document["relations"].items():
                signature = None if entry[0] is None else tuple(entry[0])
                relations = _relations_of(ticket_id, entry[1])
                self._relations[ticket_id] = _Relations(signature, relations)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self._items.clear()
            self._relations.clear()

    def _save(self) -> None:
        if not self._dirty or self._cache_file is None or not self._cache_file.parent.is_dir():
            return
        self._dirty = False
        items = {
            key: [item.signature, _meta_fields(item.meta)]
            for key, item in self._items.items()
            if item.meta is not None and item.signature != _UNTRUSTED
        }
        relations = {
            key: [entry.signature, [_relation_fields(r) for r in entry.relations]]
            for key, entry in self._relations.items()
            if entry.signature != _UNTRUSTED
        }
        document = {"version": _CACHE_VERSION, "items": items, "relations": relations}
        try:
            write_atomic(self._cache_file, json.dumps(document, separators=(",", ":")))
        except OSError:
            return


def _ticket_folders(root: Path) -> dict[str, bool]:
    """Each folder named by a ticket id, and whether it is a symbolic link."""
    try:
        with os.scandir(root) as entries:
            return {
                entry.name: entry.is_symlink()
                for entry in entries
                if is_ticket_id(entry.name) and (entry.is_symlink() or entry.is_dir())
            }
    except FileNotFoundError:
        return {}


def _signature(name: str, root: int | None, folder: Path) -> Signature:
    """What identifies this version of the file; :data:`_UNTRUSTED` while it may still change
    within one timestamp tick."""
    if root is None:
        stat = os.stat(folder / name, follow_symlinks=False)
    else:
        stat = os.stat(name, dir_fd=root, follow_symlinks=False)
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < _RACY_NS:
        return _UNTRUSTED
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _read_item(path: Path, ticket_id: str, signature: Signature) -> _Item:
    try:
        item = parse_item(read_text(path, limit=ITEM_LIMIT, name=f"{ticket_id}/item.md"))
    except (FileProblem, FrontMatterError) as error:
        return _Item(signature, None, str(error))
    except OSError as error:
        return _Item(_UNTRUSTED, None, f"{ticket_id}/item.md cannot be read ({error.strerror})")
    return _Item(signature, item.meta, None)


def _read_relations(path: Path, ticket_id: str, signature: Signature | None) -> _Relations:
    if signature is None or path.parent.is_symlink():
        return _Relations(None, ())
    try:
        text = read_text(path, limit=RELATIONS_LIMIT, name=f"{ticket_id}/relations.json")
    except FileProblem:
        return _Relations(signature, ())
    except OSError:
        return _Relations(_UNTRUSTED, ())
    return _Relations(signature, parse_relations(text, ticket_id).relations)


def _meta_fields(meta: Meta | None) -> list[object]:
    assert meta is not None
    return [
        meta.title,
        meta.state.value,
        meta.created_at,
        meta.updated_at,
        meta.assignee,
        meta.readiness,
        list(meta.risk_flags),
        meta.queued_by,
        meta.queued_at,
        meta.priority,
    ]


def _meta_of(fields: list[object]) -> Meta:
    """A cached front matter, its shape checked: a cache of another shape is ignored."""
    title, state, created, updated, assignee, readiness, flags, by, at, priority = fields
    if not isinstance(flags, list) or not isinstance(state, str):
        raise ValueError("a cache entry of the wrong shape")
    return Meta(
        _cached(title) or "",
        _STATES[state],
        _cached(created) or "",
        _cached(updated) or "",
        _cached(assignee),
        _cached(readiness),
        tuple(flags),
        _cached(by),
        _cached(at),
        _cached(priority),
    )


def _cached(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("a cache entry of the wrong shape")


def _relation_fields(relation: Relation) -> list[object]:
    return [relation.kind.value, relation.target, relation.note, relation.author, relation.at]


def _relations_of(owner: str, entries: list[list[object]]) -> tuple[Relation, ...]:
    return tuple(
        Relation(owner, RelationKind(str(kind)), str(target), *map(_cached, rest))
        for kind, target, *rest in entries
    )
