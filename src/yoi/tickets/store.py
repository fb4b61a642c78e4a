"""The ticket store: every read and change of ``.yoi/tickets/``, for the CLI and the backend alike.

Each change runs under the store lock, re-reads the ticket, checks its
expected state (a compare-and-set), appends its thread events and only then
rewrites the front matter, bumping ``updated_at``. Reads go through the
:class:`~yoi.tickets.index.TicketIndex`, which sees hand and git edits on
the next read.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from yoi.errors import (
    DuplicateRelation,
    InvalidRequest,
    InvalidTicketId,
    RelationCycle,
    StateConflict,
    StoreError,
    StoreFull,
    YoiError,
)
from yoi.tickets import inputs
from yoi.tickets.config import CONFIG_NAME, TicketConfig
from yoi.tickets.files import fsync_dir, write_atomic
from yoi.tickets.folder import STAGING, STAGING_IGNORE, TicketFolder, staging_name
from yoi.tickets.frontmatter import Item, Value, render_item
from yoi.tickets.ids import encode_id, timestamp
from yoi.tickets.ids import ticket_id as checked_id
from yoi.tickets.index import Catalog, TicketIndex
from yoi.tickets.lifecycle import Graph, check_move
from yoi.tickets.lock import LOCK_NAME, store_lock
from yoi.tickets.model import (
    EventKind,
    Meta,
    PlanKind,
    PlanRecord,
    Relation,
    RelationKind,
    ReviewStatus,
    State,
    ThreadEvent,
)
from yoi.tickets.plans import check_plan, plan_id, render_plan
from yoi.tickets.relations import RelationFile, closing_cycle
from yoi.tickets.texts import Texts
from yoi.tickets.thread import parse_thread, render_event
from yoi.tickets.views import (
    Board,
    Listing,
    ReadyView,
    TicketDetail,
    TicketSummary,
    board_of,
    listing_of,
    ready_of,
)

if TYPE_CHECKING:
    from yoi.tickets.watch import InotifyFeed

__all__ = ["COMMENT_ROLES", "TicketStore"]

COMMENT_ROLES = frozenset(
    {EventKind.COMMENT, EventKind.PLAN, EventKind.DECISION, EventKind.IMPLEMENTATION_REPORT}
)
_ID_TRIES = 1000
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_REASONS = {
    State.PLANNING: "returned_to_planning",
    State.READY: "ready",
    State.QUEUED: "queued",
    State.INPROGRESS: "started",
    State.DONE: "done",
    State.CLOSED: "closed",
}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Change:
    """One ticket under the lock: its text as read, and the moment of the change."""

    folder: TicketFolder
    text: str
    item: Item
    at: str


class TicketStore:
    def __init__(
        self,
        root: Path,
        *,
        config: TicketConfig | None = None,
        cache_file: Path | None = None,
        lock_wait: float = 10.0,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.root = root
        self.config = config or TicketConfig()
        self.texts = Texts(self.config.language)
        self.index = TicketIndex(root, cache_file=cache_file)
        self._lock_wait = lock_wait
        self._clock = clock
        self._feed: InotifyFeed | None = None

    @classmethod
    def for_workspace(
        cls, workspace: Path, *, lock_wait: float = 10.0, clock: Callable[[], int] = _now_ms
    ) -> TicketStore:
        """The store ``.yoi/ticket.config.toml`` describes, cached under ``.yoi/state/``."""
        config = TicketConfig.load(workspace / ".yoi" / CONFIG_NAME)
        cache = workspace / ".yoi" / "state" / "ticket-index.json"
        root = config.store_root(workspace)
        return cls(root, config=config, cache_file=cache, lock_wait=lock_wait, clock=clock)

    def watch(self) -> bool:
        """Learn of changes from the kernel instead of checking every file on each read.

        For a long-running process: a read then costs no file system calls
        when nothing changed. ``False`` where that cannot work (not Linux, no
        inotify watches left); reads stay correct, only slower.
        """
        from yoi.tickets.watch import open_feed  # only long-running processes watch

        if self._feed is None:
            self._feed = open_feed(self.root)
            self.index.attach(self._feed)
        return self._feed is not None

    def close(self) -> None:
        """Stop watching; the store stays usable."""
        feed, self._feed = self._feed, None
        self.index.attach(None)
        if feed is not None:
            feed.close()

    def init(self) -> None:
        """Create the store folder; ``.yoi/.gitignore`` keeps the lock file and the folders
        of unfinished new tickets out of git."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._ignore_own_files()

    def _ignore_own_files(self) -> None:
        ignore = self.root.parent / ".gitignore"
        try:
            existing = ignore.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = ""
        present = {line.strip().lstrip("/") for line in existing.splitlines()}
        wanted = [f"{self.root.name}/{name}" for name in (LOCK_NAME, STAGING_IGNORE)]
        missing = "".join(f"{entry}\n" for entry in wanted if entry not in present)
        if missing:
            prefix = "" if not existing or existing.endswith("\n") else "\n"
            write_atomic(ignore, f"{existing}{prefix}{missing}")

    # reading

    def catalog(self) -> Catalog:
        return self.index.catalog()

    def listing(
        self, *, state: State | None = None, query: str | None = None, limit: int | None = None
    ) -> Listing:
        catalog = self.index.catalog(relations=False)
        return listing_of(catalog, state=state, query=query, limit=limit)

    def get(self, ticket_id: str) -> TicketDetail:
        folder = TicketFolder(self.root, ticket_id)
        folder.check()
        _, item = folder.item()
        thread = folder.thread()
        relations = folder.relations()
        plans = folder.plans()
        graph = self._graph()
        problems = [f"thread.md line {p.line}: {p.message}" for p in thread.problems]
        problems += list(relations.problems)
        problems += [f"orchestration-plan.jsonl line {n}: {m}" for n, m in plans.problems]
        return TicketDetail(
            id=folder.id,
            meta=item.meta,
            body=item.body,
            events=thread.events,
            relations=relations.relations,
            inverses=tuple(graph.inverses(folder.id)),
            blockers=tuple(graph.blockers(folder.id)),
            notices=tuple(graph.notices(folder.id)),
            plans=plans.records,
            artifacts=tuple(folder.artifact_names()),
            resolution=folder.resolution(),
            problems=tuple(problems),
        )

    def ready(self) -> ReadyView:
        return ready_of(self.index.catalog())

    def board(self, *, limit: int = 200) -> Board:
        return board_of(self.index.catalog(), limit=limit)

    def relations(
        self, *, ticket_id: str | None = None, kind: RelationKind | None = None
    ) -> list[Relation]:
        owned = self.index.catalog().relations
        owners = [checked_id(ticket_id)] if ticket_id is not None else sorted(owned)
        found = [r for owner in owners for r in owned.get(owner, ())]
        return [r for r in found if kind is None or r.kind is kind]

    def plans(self, *, ticket_id: str | None = None) -> list[PlanRecord]:
        if ticket_id is not None:
            folder = TicketFolder(self.root, ticket_id)
            folder.check()
            return list(folder.plans().records)
        ids = sorted(self.index.catalog(relations=False).metas)
        return [record for i in ids for record in TicketFolder(self.root, i).plans().records]

    # changing

    def create(self, title: str, body: str, *, author: str) -> TicketSummary:
        title = inputs.line(title, "title")
        body = inputs.text(body, "body", required=False)
        author = inputs.line(author, "author")
        with self._locked():
            self.root.mkdir(parents=True, exist_ok=True)
            ticket_id, milliseconds = self._free_id()
            at = timestamp(milliseconds)
            meta = Meta(title=title, state=State.PLANNING, created_at=at, updated_at=at)
            event = self._event(EventKind.CREATE, author, at, self.texts.created())
            self._place(ticket_id, render_item(meta, body), event)
        return TicketSummary(ticket_id, meta)

    def comment(
        self, ticket_id: str, body: str, *, author: str, role: EventKind = EventKind.COMMENT
    ) -> ThreadEvent:
        if role not in COMMENT_ROLES:
            roles = ", ".join(sorted(r.value for r in COMMENT_ROLES))
            raise InvalidRequest(f"a comment's role is one of {roles}", details={"field": "role"})
        body = inputs.text(body, "body")
        author = inputs.line(author, "author")
        with self._change(ticket_id) as change:
            block = self._event(role, author, change.at, body)
            self._commit(change, [block], {})
        return parse_thread(block).events[0]

    def review(
        self, ticket_id: str, status: ReviewStatus, body: str, *, author: str
    ) -> ThreadEvent:
        body = inputs.text(body, "body")
        author = inputs.line(author, "author")
        with self._change(ticket_id) as change:
            heading = self.texts.heading(status.value)
            attrs = [("status", status.value)]
            block = render_event(
                "review", author, change.at, heading=heading, body=body, attrs=attrs
            )
            self._commit(change, [block], {})
        return parse_thread(block).events[0]

    def move(
        self,
        ticket_id: str,
        target: State,
        *,
        author: str,
        expected: State | None = None,
        reason: str | None = None,
        summary: str | None = None,
        resolution: str | None = None,
    ) -> Meta:
        """Move a ticket along its lifecycle, under every rule of :mod:`~yoi.tickets.lifecycle`."""
        author = inputs.line(author, "author")
        reason = inputs.line(reason, "reason") if reason is not None else _REASONS[target]
        if summary is not None:
            summary = inputs.text(summary, "summary")
        if target is State.CLOSED:
            resolution = inputs.text(resolution, "resolution")
        with self._change(ticket_id) as change:
            source = change.item.meta.state
            if expected is not None and expected is not source:
                raise StateConflict(
                    f"{change.folder.id} is {source}, not {expected}: it changed before this move",
                    details={"ticket_id": change.folder.id, "state": source.value},
                )
            blocks, fields = self._moving(change, source, target, author, reason, summary)
            if target is not State.CLOSED and _cut_short(change.folder, source, target):
                return self._commit(change, [], fields)  # its events are on the thread already
            check_move(source, target)
            self._gate(change.folder.id, target)
            if target is not State.CLOSED:
                return self._commit(change, blocks, fields)
            assert resolution is not None
            close = self._event(EventKind.CLOSE, author, change.at, resolution, status="closed")
            change.folder.append_events(blocks)
            change.folder.write_resolution(resolution)
            return self._commit(change, [close], fields)

    def add_relation(
        self,
        ticket_id: str,
        kind: RelationKind,
        target: str,
        *,
        author: str,
        note: str | None = None,
    ) -> Relation:
        target = checked_id(target, field="target")
        author = inputs.line(author, "author")
        note = inputs.line(note, "note") if note is not None else None
        if target == checked_id(ticket_id):
            raise InvalidRequest("a ticket cannot relate to itself", details={"field": "target"})
        with self._change(ticket_id) as change:
            TicketFolder(self.root, target).check()
            change.folder.ensure_artifacts()
            current = change.folder.relations()
            if current.problems:
                raise InvalidRequest(
                    f"{change.folder.id}'s relations.json has problems; run `yoi ticket doctor`",
                    details={"ticket_id": change.folder.id},
                )
            if any(r.kind is kind and r.target == target for r in current.relations):
                raise DuplicateRelation(
                    f"{change.folder.id} already {kind} {target}",
                    details={"ticket_id": change.folder.id, "kind": kind.value, "target": target},
                )
            relation = Relation(change.folder.id, kind, target, note, author, change.at)
            _refuse_cycle(self.index.catalog().relations, relation)
            change.folder.write_relations(RelationFile((*current.relations, relation), ()))
            self._commit(change, [], {})
        return relation

    def add_plan(
        self,
        ticket_id: str,
        kind: PlanKind,
        *,
        author: str,
        related_ticket: str | None = None,
        note: str | None = None,
        accepted_plan: Mapping[str, object] | None = None,
    ) -> PlanRecord:
        author = inputs.line(author, "author")
        if note is not None:
            note = inputs.text(note, "note")
        if related_ticket is not None:
            related_ticket = _canonical_or_given(related_ticket)
        with self._change(ticket_id) as change:
            present = change.folder.plans().lines
            record = PlanRecord(
                id=plan_id(self._clock(), present),
                ticket_id=change.folder.id,
                kind=kind,
                author=author,
                at=change.at,
                related_ticket=related_ticket,
                note=note,
                accepted_plan=dict(accepted_plan or {}),
            )
            try:
                check_plan(record)
            except ValueError as error:
                raise InvalidRequest(str(error), details={"field": "kind"}) from None
            if related_ticket is not None:
                TicketFolder(self.root, related_ticket).check()
            change.folder.append_plan(render_plan(record))
            self._commit(change, [], {})
        return record

    # internals

    def _gate(self, ticket_id: str, target: State) -> None:
        if target is State.QUEUED:
            self._graph().check_queue(ticket_id)
        elif target is State.INPROGRESS:
            self._graph().check_start(ticket_id)

    def _moving(
        self,
        change: _Change,
        source: State,
        target: State,
        author: str,
        reason: str,
        summary: str | None,
    ) -> tuple[list[str], dict[str, Value]]:
        blocks: list[str] = []
        fields: dict[str, Value] = {"state": target.value}
        if target is State.READY:
            text = summary or self.texts.intake_summary()
            blocks.append(self._event(EventKind.INTAKE_SUMMARY, author, change.at, text))
        if target is State.QUEUED:
            fields.update(queued_by=author, queued_at=change.at)
        attrs = [
            ("from", source.value),
            ("to", target.value),
            ("reason", reason),
            ("field", "state"),
        ]
        heading = self.texts.heading("state_changed")
        body = self.texts.moved(source.value, target.value, author)
        blocks.append(
            render_event(
                "state_changed", author, change.at, heading=heading, body=body, attrs=attrs
            )
        )
        return blocks, fields

    def _event(
        self, kind: EventKind, author: str, at: str, body: str, *, status: str | None = None
    ) -> str:
        attrs = [("status", status)] if status else []
        heading = self.texts.heading(kind.value)
        return render_event(kind.value, author, at, heading=heading, body=body, attrs=attrs)

    def _commit(self, change: _Change, blocks: list[str], fields: dict[str, Value]) -> Meta:
        if blocks:
            change.folder.append_events(blocks)
        change.folder.write_fields(change.text, {**fields, "updated_at": change.at})
        return _moved(change.item.meta, fields, change.at)

    def _graph(self) -> Graph:
        catalog = self.index.catalog()
        return Graph(catalog.relations, catalog.states())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
        try:
            with store_lock(self.root, wait=self._lock_wait):
                self._sweep()
                yield
        except OSError as error:
            if error.errno in _FULL:
                raise StoreFull(
                    f"the disk has no room for this ticket change ({error.strerror}); "
                    "the change was not made"
                ) from None
            raise StoreError(f"the ticket store cannot be written ({error.strerror})") from None

    @contextmanager
    def _change(self, ticket_id: str) -> Iterator[_Change]:
        folder = TicketFolder(self.root, ticket_id)
        with self._locked():
            folder.check()
            text, item = folder.item()
            with folder.undone_on_failure():
                yield _Change(folder, text, item, timestamp(self._clock()))

    def _sweep(self) -> None:
        """Remove what writers killed while building a ticket left; under the lock, no live
        writer is building one."""
        with os.scandir(self.root) as entries:
            left = [
                e.path
                for e in entries
                if STAGING.fullmatch(e.name) and e.is_dir(follow_symlinks=False)
            ]
        for path in left:
            shutil.rmtree(path, ignore_errors=True)

    def _free_id(self) -> tuple[str, int]:
        start = self._clock()
        for offset in range(_ID_TRIES):
            candidate = encode_id(start + offset)
            if not os.path.lexists(self.root / candidate):
                return candidate, start + offset
        raise StoreError(f"no free ticket id within {_ID_TRIES} ms of now")

    def _place(self, ticket_id: str, item: str, event: str) -> None:
        """Build the ticket in a hidden folder, then rename it into place in one step."""
        staging = self.root / staging_name(ticket_id)
        try:
            (staging / "artifacts").mkdir(parents=True)
            (staging / "artifacts" / ".gitkeep").touch()
            write_atomic(staging / "item.md", item)
            write_atomic(staging / "thread.md", event)
            os.rename(staging, self.root / ticket_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(self.root)


def _canonical_or_given(value: str) -> str:
    """A plan's related ticket as a canonical id; what is no id is left for the plan rules,
    which refuse it with their own message."""
    try:
        return checked_id(value)
    except InvalidTicketId:
        return value


def _refuse_cycle(owned: Mapping[str, Sequence[Relation]], relation: Relation) -> None:
    cycle = closing_cycle(owned, relation)
    if cycle is not None:
        route = " → ".join(cycle)
        raise RelationCycle(
            f"{relation.ticket_id} {relation.kind} {relation.target} would close a cycle of "
            f"tickets waiting for each other, none of which could start: {route}",
            details={
                "ticket_id": relation.ticket_id,
                "kind": relation.kind.value,
                "target": relation.target,
                "cycle": cycle,
            },
        )


def _cut_short(folder: TicketFolder, source: State, target: State) -> bool:
    """Whether this very move was begun by a writer killed between appending its events and
    writing ``item.md``: the thread's last state change is ``source → target`` while the
    item still says ``source``. The move is then finished, not written twice."""
    try:
        events = folder.thread().events
    except YoiError:  # a thread that cannot be read: the write refuses it in its own words
        return False
    changes = [e for e in events if e.kind == EventKind.STATE_CHANGED]
    if not changes:
        return False
    last = changes[-1]
    return (last.attr("from"), last.attr("to")) == (source.value, target.value)


def _moved(meta: Meta, fields: Mapping[str, Value], at: str) -> Meta:
    moved = fields.get("state")
    state = State(moved) if isinstance(moved, str) else meta.state
    queued_by = fields.get("queued_by", meta.queued_by)
    queued_at = fields.get("queued_at", meta.queued_at)
    return Meta(
        title=meta.title,
        state=state,
        created_at=meta.created_at,
        updated_at=at,
        assignee=meta.assignee,
        readiness=meta.readiness,
        risk_flags=meta.risk_flags,
        queued_by=queued_by if isinstance(queued_by, str) else None,
        queued_at=queued_at if isinstance(queued_at, str) else None,
        priority=meta.priority,
    )
