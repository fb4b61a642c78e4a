"""Doctor: every problem in a ticket store, found without changing a byte.

The store itself reads leniently and refuses what it cannot read one ticket
at a time; the doctor reads every file on its own, collects every problem
instead of stopping at the first, and never follows a link out of the store.
Hostile trees (links, FIFOs, binary or huge files, YAML tags and aliases,
deeply nested JSON) become findings, never a crash or a hang. It writes
nothing, not even the index cache, so it is safe to run on any checkout.

Finding codes are stable; ``path`` is relative to the store root.

===========================  ========  =========================================================
code                         severity  meaning
===========================  ========  =========================================================
``unreadable_store``         error     the store folder exists but cannot be listed
``invalid_folder_name``      error     a folder (or link) whose name is not a ticket id
``ticket_symlink``           error     a ticket folder that is a symbolic link (never followed)
``ticket_not_folder``        error     an entry named like a ticket id that is a file, FIFO, ...
``missing_item``             error     a ticket folder without ``item.md``
``missing_thread``           error     a ticket folder without ``thread.md``
``missing_artifacts``        error     no ``artifacts/``, or it is a link or a file
``unreadable_front_matter``  error     ``item.md`` is not UTF-8, too large, not a regular file,
                                       or not front matter (when no finding below explains it)
``missing_field``            error     ``title``, ``state``, ``created_at`` or ``updated_at`` is
                                       absent, null or empty
``obsolete_field``           error     ``id``, ``slug``, ``status``, ``workflow_state``, ``kind``,
                                       ``labels``, ``action_required`` or ``attention_required``
``bad_state``                error     ``state`` is not a known state (legacy ``intake`` is)
``unreadable_file``          error     ``thread.md``, ``relations.json``, the plan log,
                                       ``resolution.md`` or an artifacts folder cannot be read
``bad_event``                error     a thread event that cannot be read: an unterminated
                                       header, no kind or ``at``, a torn event (no ``---``)
``incomplete_state_change``  error     a ``state_changed`` event without from, to, reason or author
``history_conflict``         error     a ``state_changed`` event out of place: it starts from
                                       another state than the events before it left, or makes
                                       a move the lifecycle has not (hand-inserted or forged;
                                       see :mod:`~yoi.tickets.history`)
``invalid_relation``         error     ``relations.json`` is not valid, or an entry is invalid,
                                       listed twice, or relates a ticket to itself
``dangling_relation``        error     a relation whose target has no folder in the store
``relation_cycle``           error     a ``depends_on``/``blocks`` cycle (each reported once)
``invalid_plan``             error     a line of ``orchestration-plan.jsonl`` that is not a record
``artifact_path_escape``     error     an artifact name holding ``..``, or a link under
                                       ``artifacts/`` that points outside it
``missing_resolution``       warning   a closed ticket without ``resolution.md``
``bad_review_status``        warning   a review event whose status is not ``approve`` or
                                       ``request_changes`` (legacy ``result:`` reviews included)
``unfinished_ticket``        warning   a ``.new-<id>-<hex>`` folder: a new ticket whose writer was
                                       killed while building it (the next store change removes it)
``state_mismatch``           warning   ``item.md``'s state is not where the thread's state
                                       changes leave the ticket (a hand edit, or a crash between
                                       a move's event and its front matter)
===========================  ========  =========================================================
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from yoi.tickets.files import FileProblem, read_text
from yoi.tickets.folder import PLAN_LIMIT, RESOLUTION_LIMIT, STAGING, THREAD_LIMIT
from yoi.tickets.frontmatter import FrontMatterError, parse_item
from yoi.tickets.history import replay
from yoi.tickets.ids import is_ticket_id
from yoi.tickets.index import ITEM_LIMIT, RELATIONS_LIMIT
from yoi.tickets.lifecycle import Graph
from yoi.tickets.model import EventKind, Relation, RelationKind, ReviewStatus, State, ThreadEvent
from yoi.tickets.plans import parse_plans
from yoi.tickets.relations import parse_relations
from yoi.tickets.thread import parse_thread

__all__ = ["OBSOLETE_FIELDS", "REQUIRED_FIELDS", "Finding", "Report", "Severity", "diagnose"]

Severity = Literal["error", "warning"]

REQUIRED_FIELDS = ("title", "state", "created_at", "updated_at")
OBSOLETE_FIELDS = (
    "id",
    "slug",
    "status",
    "workflow_state",
    "kind",
    "labels",
    "action_required",
    "attention_required",
)
_STATES = frozenset(state.value for state in State) | {"intake"}
_REVIEW_STATUSES = frozenset(status.value for status in ReviewStatus)
_CHANGE_ATTRS = ("from", "to", "reason")
# What a safe YAML load can raise on hostile input: its constructors let
# ValueError (a 13th month), AttributeError (a bad !!timestamp) and others out.
_LOAD_ERRORS = (
    yaml.YAMLError,
    ValueError,
    TypeError,
    AttributeError,
    OverflowError,
    RecursionError,
)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class Finding:
    severity: Severity
    ticket_id: str | None
    path: str
    code: str
    message: str


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(finding for finding in self.findings if finding.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def diagnose(root: Path) -> Report:
    """Every finding for the store at ``root`` (``.yoi/tickets``); a missing store has none."""
    checkup = _Checkup(root)
    checkup.run()
    return Report(tuple(checkup.findings))


class _Checkup:
    """One pass over the store, in folder order, then the cross-ticket cycle check."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.findings: list[Finding] = []
        self.present: set[str] = set()
        self.relations: dict[str, tuple[Relation, ...]] = {}

    def run(self) -> None:
        entries = self._entries()
        self.present = {name for name, _ in entries if is_ticket_id(name)}
        for name, mode in entries:
            self._entry(name, mode)
        self._cycles()

    def error(self, ticket_id: str | None, path: str, code: str, message: str) -> None:
        self.findings.append(Finding("error", ticket_id, path, code, _clip(message)))

    def warning(self, ticket_id: str | None, path: str, code: str, message: str) -> None:
        self.findings.append(Finding("warning", ticket_id, path, code, _clip(message)))

    # the store folder

    def _entries(self) -> list[tuple[str, int]]:
        """Each non-dot entry and its own mode (links not followed), sorted by name."""
        found: list[tuple[str, int]] = []
        try:
            with os.scandir(self.root) as listing:
                for entry in listing:
                    if entry.name.startswith("."):
                        self._hidden(entry)
                        continue
                    try:
                        found.append((entry.name, entry.stat(follow_symlinks=False).st_mode))
                    except OSError:
                        continue  # gone between the listing and the look
        except FileNotFoundError:
            return []
        except OSError as error:
            self.error(None, ".", "unreadable_store", f"the store cannot be listed ({_why(error)})")
            return []
        return sorted(found)

    def _hidden(self, entry: os.DirEntry[str]) -> None:
        name = entry.name
        if STAGING.fullmatch(name) and entry.is_dir(follow_symlinks=False):
            message = (
                f"{name} holds a new ticket whose writer was killed before it was done; "
                "the next change to the store removes it"
            )
            self.warning(None, name, "unfinished_ticket", message)

    def _entry(self, name: str, mode: int) -> None:
        if not is_ticket_id(name):
            if stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
                message = "is not a ticket id (13 characters of Crockford base 32)"
                self.error(None, _shown(name), "invalid_folder_name", f"{_shown(name)} {message}")
        elif stat.S_ISLNK(mode):
            message = "is a symbolic link; a ticket folder must be a real folder"
            self.error(name, name, "ticket_symlink", f"{name} {message}")
        elif not stat.S_ISDIR(mode):
            self.error(name, name, "ticket_not_folder", f"{name} is not a folder")
        else:
            self._ticket(name)

    def _ticket(self, ticket_id: str) -> None:
        state = self._item(ticket_id)
        self._thread(ticket_id, state)
        if self._artifacts(ticket_id):
            self._relations(ticket_id)
            self._plans(ticket_id)
            self._artifact_paths(ticket_id)
        self._resolution(ticket_id, state)

    # reading

    def _read(self, ticket_id: str, name: str, limit: int, code: str) -> str | None:
        """The text of ``name``; ``None`` when it is absent or unreadable (reported as ``code``)."""
        where = f"{ticket_id}/{name}"
        try:
            return _read_regular(self.root / where, where, limit)
        except FileProblem as problem:
            self.error(ticket_id, where, code, str(problem))
            return None

    def _present(self, ticket_id: str, name: str, code: str) -> bool:
        if os.path.lexists(self.root / ticket_id / name):
            return True
        self.error(ticket_id, f"{ticket_id}/{name}", code, f"{ticket_id} has no {name}")
        return False

    # item.md

    def _item(self, ticket_id: str) -> State | None:
        """Check the front matter; the ticket's state when it is readable."""
        if not self._present(ticket_id, "item.md", "missing_item"):
            return None
        text = self._read(ticket_id, "item.md", ITEM_LIMIT, "unreadable_front_matter")
        if text is None:
            return None
        try:
            item = parse_item(text)
        except _LOAD_ERRORS as error:
            fields = _raw_fields(text)
            if fields is None or not self._fields(ticket_id, fields):
                where = f"{ticket_id}/item.md"
                self.error(ticket_id, where, "unreadable_front_matter", _load_message(error))
            return None
        self._fields(ticket_id, item.fields)
        return item.meta.state

    def _fields(self, ticket_id: str, fields: Mapping[str, object]) -> bool:
        """Report missing, obsolete and bad fields; whether there was anything to report."""
        before = len(self.findings)
        where = f"{ticket_id}/item.md"
        for key in REQUIRED_FIELDS:
            value = fields.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                self.error(ticket_id, where, "missing_field", f"item.md has no {key}")
        for key in OBSOLETE_FIELDS:
            if key in fields:
                self.error(ticket_id, where, "obsolete_field", f"item.md has obsolete field {key}")
        state = fields.get("state")
        if state is not None and not (isinstance(state, str) and state in _STATES):
            shown = repr(state) if isinstance(state, str) else f"a {type(state).__name__}"
            allowed = ", ".join(s.value for s in State)
            message = f"item.md's state {shown} is not one of {allowed}"
            self.error(ticket_id, where, "bad_state", message)
        return len(self.findings) > before

    # thread.md

    def _thread(self, ticket_id: str, state: State | None) -> None:
        if not self._present(ticket_id, "thread.md", "missing_thread"):
            return
        text = self._read(ticket_id, "thread.md", THREAD_LIMIT, "unreadable_file")
        if text is None:
            return
        where = f"{ticket_id}/thread.md"
        thread = parse_thread(text)
        for problem in thread.problems:
            self.error(ticket_id, where, "bad_event", f"line {problem.line}: {problem.message}")
        for event in thread.events:
            if event.kind == EventKind.STATE_CHANGED.value:
                self._state_change(ticket_id, event)
            elif event.kind == EventKind.REVIEW.value:
                self._review(ticket_id, event)
        self._history(ticket_id, thread.events, state)

    def _history(self, ticket_id: str, events: Sequence[ThreadEvent], state: State | None) -> None:
        where = f"{ticket_id}/thread.md"
        history = replay(events)
        for found in history.contradictions:
            message = f"the state_changed event at {found.at} {found.message}"
            self.error(ticket_id, where, "history_conflict", message)
        if state is not None and history.state not in (None, state.value):
            message = f"item.md says {state}, but the thread's state changes end at {history.state}"
            self.warning(ticket_id, f"{ticket_id}/item.md", "state_mismatch", message)

    def _state_change(self, ticket_id: str, event: ThreadEvent) -> None:
        missing = [name for name in _CHANGE_ATTRS if not event.attr(name)]
        if not event.author:
            missing.insert(0, "author")
        if missing:
            message = f"the state_changed event at {event.at} has no {', '.join(missing)}"
            self.error(ticket_id, f"{ticket_id}/thread.md", "incomplete_state_change", message)

    def _review(self, ticket_id: str, event: ThreadEvent) -> None:
        status = event.attr("status")
        if status in _REVIEW_STATUSES:
            return
        shown = "no status" if status is None else f"status {status!r}"
        allowed = " or ".join(sorted(_REVIEW_STATUSES))
        message = f"the review event at {event.at} has {shown}, not {allowed}"
        self.warning(ticket_id, f"{ticket_id}/thread.md", "bad_review_status", message)

    # artifacts/

    def _artifacts(self, ticket_id: str) -> bool:
        """Whether ``artifacts/`` is a real folder that may be read."""
        if not self._present(ticket_id, "artifacts", "missing_artifacts"):
            return False
        try:
            mode = os.lstat(self.root / ticket_id / "artifacts").st_mode
        except OSError as error:
            mode, reason = 0, _why(error)
        else:
            reason = "a symbolic link" if stat.S_ISLNK(mode) else "not a folder"
        if stat.S_ISDIR(mode):
            return True
        message = f"{ticket_id}/artifacts is {reason}; it must be a real folder"
        self.error(ticket_id, f"{ticket_id}/artifacts", "missing_artifacts", message)
        return False

    def _relations(self, ticket_id: str) -> None:
        name = "artifacts/relations.json"
        text = self._read(ticket_id, name, RELATIONS_LIMIT, "unreadable_file")
        if text is None:
            return
        where = f"{ticket_id}/{name}"
        try:
            parsed = parse_relations(text, ticket_id)
        except (RecursionError, ValueError) as error:
            self.error(ticket_id, where, "invalid_relation", _json_message("relations.json", error))
            return
        for problem in parsed.problems:
            self.error(ticket_id, where, "invalid_relation", problem)
        for relation in parsed.relations:
            if relation.target not in self.present:
                message = f"{relation.kind} {relation.target}: no such ticket in the store"
                self.error(ticket_id, where, "dangling_relation", message)
        self.relations[ticket_id] = parsed.relations

    def _plans(self, ticket_id: str) -> None:
        name = "artifacts/orchestration-plan.jsonl"
        text = self._read(ticket_id, name, PLAN_LIMIT, "unreadable_file")
        if text is None:
            return
        where = f"{ticket_id}/{name}"
        try:
            problems = parse_plans(text, ticket_id).problems
        except (RecursionError, ValueError):
            problems = _plan_problems_by_line(text, ticket_id)
        for number, problem in problems:
            self.error(ticket_id, where, "invalid_plan", f"line {number}: {problem}")

    def _artifact_paths(self, ticket_id: str) -> None:
        """Walk ``artifacts/`` without following links; an explicit stack, so depth costs no
        recursion."""
        base = self.root / ticket_id / "artifacts"
        pending = [""]
        while pending:
            folder = pending.pop()
            for name, mode in self._listing(ticket_id, base, folder):
                inner = f"{folder}/{name}" if folder else name
                if ".." in name:
                    self._escape(ticket_id, inner, "its name holds '..'")
                if stat.S_ISLNK(mode):
                    self._link(ticket_id, base, inner)
                elif stat.S_ISDIR(mode):
                    pending.append(inner)

    def _listing(self, ticket_id: str, base: Path, folder: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        try:
            with os.scandir(base / folder) as listing:
                for entry in listing:
                    found.append((entry.name, entry.stat(follow_symlinks=False).st_mode))
        except OSError as error:
            where = f"{ticket_id}/artifacts/{_shown(folder)}".rstrip("/")
            self.error(ticket_id, where, "unreadable_file", f"cannot be listed ({_why(error)})")
        return sorted(found)

    def _link(self, ticket_id: str, base: Path, inner: str) -> None:
        try:
            target = os.readlink(base / inner)
        except OSError as error:
            self._escape(ticket_id, inner, f"is a link that cannot be read ({_why(error)})")
            return
        if _escapes(os.path.dirname(inner), target):
            self._escape(ticket_id, inner, f"is a link outside artifacts/ (to {_shown(target)})")

    def _escape(self, ticket_id: str, inner: str, reason: str) -> None:
        where = f"{ticket_id}/artifacts/{_shown(inner)}"
        self.error(ticket_id, where, "artifact_path_escape", f"artifacts/{_shown(inner)} {reason}")

    # resolution.md and the whole store

    def _resolution(self, ticket_id: str, state: State | None) -> None:
        if os.path.lexists(self.root / ticket_id / "resolution.md"):
            self._read(ticket_id, "resolution.md", RESOLUTION_LIMIT, "unreadable_file")
        elif state is State.CLOSED:
            message = f"{ticket_id} is closed but has no resolution.md"
            self.warning(ticket_id, f"{ticket_id}/resolution.md", "missing_resolution", message)

    def _cycles(self) -> None:
        for cycle in Graph(self.relations, {}).cycles():
            owner = self._edge_owner(cycle[0], cycle[1 % len(cycle)])
            route = " → ".join([*cycle, cycle[0]])
            message = f"depends_on/blocks cycle: {route} (each waits for the next)"
            where = f"{owner}/artifacts/relations.json"
            self.error(owner, where, "relation_cycle", message)

    def _edge_owner(self, waiting: str, awaited: str) -> str:
        """Whose relations.json holds the edge ``waiting → awaited``: a depends_on of the one
        waiting, else a blocks of the one awaited."""
        for relation in self.relations.get(waiting, ()):
            if relation.kind is RelationKind.DEPENDS_ON and relation.target == awaited:
                return waiting
        return awaited


def _read_regular(path: Path, name: str, limit: int) -> str | None:
    """Like :func:`read_text`, but a FIFO or device is refused before it is opened (an open
    would block), and a vanished file is ``None``."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise FileProblem(f"{name} cannot be examined ({_why(error)})") from None
    if stat.S_ISLNK(mode):
        raise FileProblem(f"{name} is a symbolic link; it must be a regular file")
    if not stat.S_ISREG(mode):
        raise FileProblem(f"{name} is not a regular file")
    try:
        return read_text(path, limit=limit, name=name)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise FileProblem(f"{name} cannot be read ({_why(error)})") from None


def _raw_fields(text: str) -> Mapping[str, object] | None:
    """The front matter mapping as YAML loads it, even when :func:`parse_item` refuses its
    values, so each missing or bad field can be named; ``None`` when it does not load."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        return None
    close = lines.index("---", 1)
    try:
        loaded = yaml.load("\n".join(lines[1:close]), Loader=_YAML_LOADER)
    except _LOAD_ERRORS:
        return None
    if loaded is None:
        return {}
    if isinstance(loaded, dict) and all(isinstance(key, str) for key in loaded):
        return loaded
    return None


def _plan_problems_by_line(text: str, owner: str) -> tuple[tuple[int, str], ...]:
    """What :func:`parse_plans` finds, line by line, for a log it cannot read whole (a line
    nested too deeply): the other lines' problems are still reported."""
    problems: list[tuple[int, str]] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        ending = "\n" if number < len(lines) else ""
        try:
            found = parse_plans(line + ending, owner).problems
        except (RecursionError, ValueError) as error:
            found = ((number, _json_message("the line", error)),)
        problems += [(number, problem) for _, problem in found]
    return tuple(problems)


def _escapes(folder: str, target: str) -> bool:
    """Whether a link in ``artifacts/<folder>`` to ``target`` leaves ``artifacts/``."""
    if os.path.isabs(target):
        return True
    combined = os.path.normpath(os.path.join(folder, target))
    return combined == ".." or combined.startswith("../")


def _load_message(error: BaseException) -> str:
    if isinstance(error, FrontMatterError):
        return str(error)
    if isinstance(error, RecursionError):
        return "item.md's front matter nests too deeply"
    return f"item.md's front matter cannot be read ({type(error).__name__}: {error})"


def _json_message(name: str, error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return f"{name} nests too deeply to be read"
    return f"{name} cannot be read ({error})"


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _shown(name: str) -> str:
    """A file name safe to print on one line: undecodable bytes and control characters
    escaped."""
    return _printable(os.fsencode(name).decode("utf-8", "backslashreplace"))


def _clip(message: str) -> str:
    """Messages quote file content; a hostile file must make them neither huge nor break a
    tab-separated line."""
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return _printable(message)


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
