"""``yoi ticket``: the ticket store of this workspace, from the command line.

Each command parses its options, makes one call on
:class:`~yoi.tickets.TicketStore`, and prints: a tab-separated table with a
header by default, or with ``--json`` (on the group or the command) one JSON
document made by :mod:`yoi.tickets.wire`, the same projection the backend
API serves. Every :class:`~yoi.errors.YoiError` becomes ``yoi ticket:
<message>`` on stderr and exit status 1 (with ``--json``, also the API's
``{"error": ...}`` envelope on stdout); usage mistakes stay click's, exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from yoi.cli import ticket_output as out
from yoi.errors import InvalidRequest, PayloadTooLarge, StoreError, YoiError
from yoi.tickets import (
    COMMENT_ROLES,
    EventKind,
    PlanKind,
    RelationKind,
    ReviewStatus,
    State,
    TicketStore,
    TicketSummary,
)
from yoi.tickets.author import default_author
from yoi.tickets.config import CONFIG_NAME
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tickets.inputs import MAX_TEXT_BYTES
from yoi.tickets.plans import plan_dict
from yoi.tickets.relations import relation_dict
from yoi.tickets.wire import detail_dict, event_dict, listing_dict, ready_dict, summary_dict
from yoi.workspace import Workspace

__all__ = ["ticket"]

F = TypeVar("F", bound=Callable[..., Any])
JSON = dict[str, object]
_STATES = [state.value for state in State]


@dataclass(slots=True)
class _Session:
    """What the group options settle for every command: where, who, and how to print."""

    root: Path
    author_name: str | None
    as_json: bool
    _store: TicketStore | None = field(default=None, init=False)

    @property
    def store(self) -> TicketStore:
        """Built on first use, so a bad config file is a ``yoi ticket:`` error, not a crash."""
        if self._store is None:
            self._store = TicketStore.for_workspace(self.root)
        return self._store

    @property
    def author(self) -> str:
        return self.author_name or default_author(self.root)

    def emit(
        self,
        document: Mapping[str, object] | Callable[[], Mapping[str, object]],
        text: Callable[[], str],
    ) -> None:
        """Print the JSON document or the text; each is built only when it is printed."""
        if self.as_json:
            built = document() if callable(document) else document
            click.echo(json.dumps(built, ensure_ascii=False, indent=2))
        else:
            click.echo(text())


class _TicketGroup(click.Group):
    """Reports a typed error as ``yoi ticket: <message>`` (and its JSON envelope), exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except YoiError as error:
            _fail(ctx, error)
        except OSError as error:
            _fail(ctx, StoreError(f"the ticket store cannot be used ({error.strerror or error})"))


def _fail(ctx: click.Context, error: YoiError) -> None:
    session = ctx.find_object(_Session)
    if session is not None and session.as_json:
        click.echo(json.dumps({"error": error.to_dict()}, ensure_ascii=False, indent=2))
    click.echo(f"yoi ticket: {error.message}", err=True)
    ctx.exit(1)


def _set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    session = ctx.find_object(_Session)
    if value and session is not None:
        session.as_json = True


def _json_option(command: F) -> F:
    """``--json`` on a command, the same as ``yoi ticket --json``."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        is_eager=True,  # before an id is read, so a refused id still prints its envelope
        callback=_set_json,
        help="Print one JSON document.",
    )(command)


def _canonical(field: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A callback that reads an id as the store does (``00001kvzkste2`` is ``00001KVZKSTE2``),
    so everything printed names the canonical id."""

    def read(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
        return None if value is None else canonical_id(value, field=field)

    return read


_ID = _canonical("ticket id")


def _read_text(source: str, what: str) -> str:
    """A UTF-8 file, or stdin for ``-``, read no further than a ticket text can hold."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_TEXT_BYTES + 1)
        else:
            with open(source, "rb") as opened:
                data = opened.read(MAX_TEXT_BYTES + 1)
    except OSError as error:
        raise InvalidRequest(
            f"cannot read {what} file {source}: {error.strerror or error}", details={"field": what}
        ) from None
    if len(data) > MAX_TEXT_BYTES:
        raise PayloadTooLarge(
            f"{what} file {source} holds more than {MAX_TEXT_BYTES:,} bytes, "
            "the most a ticket text holds",
            details={"field": what, "limit": MAX_TEXT_BYTES},
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"{what} file {source} is not UTF-8 text (byte {error.start})", details={"field": what}
        ) from None


def _one_text(value: str | None, file: str | None, option: str, what: str) -> str:
    """Exactly one of ``--OPTION TEXT`` and ``--file F``."""
    if (value is None) == (file is None):
        raise click.UsageError(f"give one of --{option} and --file")
    return value if value is not None else _read_text(str(file), what)


def _emit_summary(session: _Session, summary: TicketSummary) -> None:
    session.emit(summary_dict(summary), lambda: out.summaries_text([summary]))


@click.group(cls=_TicketGroup)
@click.option(
    "--workspace",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The workspace (default: the git repository holding the current folder).",
)
@click.option("--author", metavar="NAME", help="Who the change is by (default: git user.name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def ticket(ctx: click.Context, workspace: Path | None, author: str | None, as_json: bool) -> None:
    """The tickets of this workspace, in .yoi/tickets/."""
    root = workspace.resolve() if workspace is not None else Workspace.find(Path.cwd()).root
    ctx.obj = _Session(root, author, as_json)


@ticket.command()
@_json_option
@click.pass_obj
def init(session: _Session) -> None:
    """Create the ticket store and .yoi/state/ (the read cache), then report what is there."""
    Workspace(session.root).ensure()
    store = session.store
    store.init()
    listing = store.listing()
    config = session.root / ".yoi" / CONFIG_NAME
    document: JSON = {
        "workspace": str(session.root),
        "tickets": {
            "path": store.config.root,
            "count": listing.total,
            "invalid": len(listing.invalid),
        },
        "config": {
            "path": f".yoi/{CONFIG_NAME}",
            "present": config.is_file(),
            "language": store.config.language.value,
        },
        "state": {"path": ".yoi/state"},
    }
    rows = [
        ("tickets", store.config.root, f"{listing.total} tickets, {len(listing.invalid)} invalid"),
        (
            "config",
            f".yoi/{CONFIG_NAME}",
            f"{'present' if config.is_file() else 'absent'}, "
            f"language {store.config.language.value}",
        ),
        ("state", ".yoi/state", "present"),
    ]
    session.emit(document, lambda: out.table(("ITEM", "PATH", "STATUS"), rows))


@ticket.command()
@click.option("--title", required=True, help="One line.")
@click.option("--body-file", metavar="FILE", help="The Markdown body (- reads stdin).")
@_json_option
@click.pass_obj
def create(session: _Session, title: str, body_file: str | None) -> None:
    """Create a ticket in planning."""
    body = _read_text(body_file, "body") if body_file is not None else ""
    _emit_summary(session, session.store.create(title, body, author=session.author))


@ticket.command(name="list")
@click.option(
    "--state",
    type=click.Choice([*_STATES, "all"]),
    default="all",
    show_default=True,
    help="Only tickets in this state.",
)
@click.option("--limit", type=click.IntRange(min=0), help="At most this many tickets.")
@click.option("--query", metavar="TEXT", help="Only tickets whose title or id contains TEXT.")
@_json_option
@click.pass_obj
def list_tickets(session: _Session, state: str, limit: int | None, query: str | None) -> None:
    """List tickets in id (creation) order."""
    wanted = None if state == "all" else State(state)
    listing = session.store.listing(state=wanted, query=query, limit=limit)
    session.emit(lambda: listing_dict(listing), lambda: out.summaries_text(listing.items))
    if not session.as_json:
        for ticket_id, problem in sorted(listing.invalid.items()):
            click.echo(f"yoi ticket: skipped {ticket_id}: {problem}", err=True)
        if len(listing.items) < listing.total:
            click.echo(f"yoi ticket: {len(listing.items)} of {listing.total} shown", err=True)


@ticket.command()
@click.argument("ticket_id", metavar="ID", callback=_ID)
@_json_option
@click.pass_obj
def show(session: _Session, ticket_id: str) -> None:
    """One ticket in full: meta, body, events, relations, blockers, plans, resolution."""
    detail = session.store.get(ticket_id)
    session.emit(detail_dict(detail), lambda: out.detail_text(detail))


@ticket.command()
@click.argument("ticket_id", metavar="ID", callback=_ID)
@click.option(
    "--role",
    type=click.Choice(sorted(role.value for role in COMMENT_ROLES)),
    default=EventKind.COMMENT.value,
    show_default=True,
)
@click.option("--message", metavar="TEXT", help="The comment's Markdown.")
@click.option("--file", metavar="FILE", help="Read the comment from FILE (- reads stdin).")
@_json_option
@click.pass_obj
def comment(
    session: _Session, ticket_id: str, role: str, message: str | None, file: str | None
) -> None:
    """Append a comment, plan, decision or implementation report to the thread."""
    body = _one_text(message, file, "message", "message")
    event = session.store.comment(ticket_id, body, author=session.author, role=EventKind(role))
    document = {"ticket_id": ticket_id, **event_dict(event)}
    session.emit(document, lambda: out.events_text(ticket_id, [event]))


@ticket.command()
@click.argument("ticket_id", metavar="ID", callback=_ID)
@click.option("--approve", is_flag=True, help="The work is accepted.")
@click.option("--request-changes", is_flag=True, help="The work needs changes.")
@click.option("--message", metavar="TEXT", help="The review's Markdown.")
@click.option("--file", metavar="FILE", help="Read the review from FILE (- reads stdin).")
@_json_option
@click.pass_obj
def review(
    session: _Session,
    ticket_id: str,
    approve: bool,
    request_changes: bool,
    message: str | None,
    file: str | None,
) -> None:
    """Record a review: --approve or --request-changes."""
    if approve and request_changes:
        raise click.UsageError("--approve and --request-changes exclude each other: give one")
    if not (approve or request_changes):
        raise click.UsageError("give one of --approve and --request-changes")
    body = _one_text(message, file, "message", "message")
    status = ReviewStatus.APPROVE if approve else ReviewStatus.REQUEST_CHANGES
    event = session.store.review(ticket_id, status, body, author=session.author)
    document = {"ticket_id": ticket_id, **event_dict(event)}
    session.emit(document, lambda: out.events_text(ticket_id, [event]))


@ticket.command()
@click.argument("ticket_id", metavar="ID", callback=_ID)
@click.argument("target", metavar="STATE", type=click.Choice(_STATES))
@click.option("--reason", metavar="TEXT", help="Why (default: the move's usual reason).")
@click.option("--summary", metavar="TEXT", help="The intake summary, for `state ID ready`.")
@click.option(
    "--expect",
    type=click.Choice(_STATES),
    help="Refuse unless the ticket is in this state now (compare-and-set).",
)
@_json_option
@click.pass_obj
def state(
    session: _Session,
    ticket_id: str,
    target: str,
    reason: str | None,
    summary: str | None,
    expect: str | None,
) -> None:
    """Move a ticket: ready, queued (the human gate), inprogress, done, back to planning."""
    if target == State.CLOSED.value:
        raise InvalidRequest(
            "closing needs a resolution: use `yoi ticket close ID --resolution TEXT`",
            details={"field": "state"},
        )
    if summary is not None and target != State.READY.value:
        raise click.UsageError("--summary goes only with `state ID ready`")
    meta = session.store.move(
        ticket_id,
        State(target),
        author=session.author,
        expected=State(expect) if expect is not None else None,
        reason=reason,
        summary=summary,
    )
    _emit_summary(session, TicketSummary(ticket_id, meta))


@ticket.command()
@click.option("--explain", is_flag=True, help="Also list the queued tickets that wait, and why.")
@_json_option
@click.pass_obj
def ready(session: _Session, explain: bool) -> None:
    """Queued tickets with no blocker, in queue order: what the orchestrator starts next."""
    view = session.store.ready()
    document = ready_dict(view)
    if not explain:
        document.pop("waiting")
    session.emit(document, lambda: out.ready_text(view, explain=explain))


@ticket.command()
@click.argument("ticket_id", metavar="ID", callback=_ID)
@click.option("--resolution", metavar="TEXT", help="How the ticket ended.")
@click.option("--file", metavar="FILE", help="Read the resolution from FILE (- reads stdin).")
@_json_option
@click.pass_obj
def close(session: _Session, ticket_id: str, resolution: str | None, file: str | None) -> None:
    """Close a ticket from any state, writing resolution.md."""
    text = _one_text(resolution, file, "resolution", "resolution")
    meta = session.store.move(ticket_id, State.CLOSED, author=session.author, resolution=text)
    _emit_summary(session, TicketSummary(ticket_id, meta))


@ticket.group()
def relation() -> None:
    """Relations between tickets (stored on the source ticket)."""


@relation.command(name="add")
@click.option(
    "--ticket", "ticket_id", metavar="ID", required=True, callback=_ID, help="The source ticket."
)
@click.option("--kind", type=click.Choice([kind.value for kind in RelationKind]), required=True)
@click.option("--target", metavar="ID", required=True, callback=_canonical("target"))
@click.option("--note", metavar="TEXT")
@_json_option
@click.pass_obj
def relation_add(
    session: _Session, ticket_id: str, kind: str, target: str, note: str | None
) -> None:
    """Add a relation from --ticket to --target."""
    added = session.store.add_relation(
        ticket_id, RelationKind(kind), target, author=session.author, note=note
    )
    session.emit(relation_dict(added), lambda: out.relations_text([added]))


@relation.command(name="list")
@click.option(
    "--ticket",
    "ticket_id",
    metavar="ID",
    callback=_ID,
    help="Only the relations this ticket holds.",
)
@click.option("--kind", type=click.Choice([kind.value for kind in RelationKind]))
@_json_option
@click.pass_obj
def relation_list(session: _Session, ticket_id: str | None, kind: str | None) -> None:
    """Forward relations, by owner, then kind and target."""
    found = session.store.relations(
        ticket_id=ticket_id, kind=RelationKind(kind) if kind is not None else None
    )
    document: JSON = {
        "items": [relation_dict(item) for item in found],
        "total": len(found),
        "returned": len(found),
    }
    session.emit(document, lambda: out.relations_text(found))


@ticket.group()
def plan() -> None:
    """The orchestrator's plan records (notes: they never change a state)."""


@plan.command(name="add")
@click.option("--ticket", "ticket_id", metavar="ID", required=True, callback=_ID)
@click.option("--kind", type=click.Choice([kind.value for kind in PlanKind]), required=True)
@click.option("--related-ticket", metavar="ID", callback=_canonical("related_ticket"))
@click.option("--note", metavar="TEXT")
@click.option("--summary", metavar="TEXT", help="accepted_plan: what was agreed.")
@click.option("--branch", metavar="NAME", help="accepted_plan: the branch.")
@click.option("--worktree", metavar="PATH", help="accepted_plan: the worktree.")
@click.option("--role-plan", metavar="TEXT", help="accepted_plan: who does what.")
@_json_option
@click.pass_obj
def plan_add(
    session: _Session,
    ticket_id: str,
    kind: str,
    related_ticket: str | None,
    note: str | None,
    summary: str | None,
    branch: str | None,
    worktree: str | None,
    role_plan: str | None,
) -> None:
    """Append a plan record; --summary, --branch, --worktree, --role-plan make an accepted_plan."""
    given = {"summary": summary, "branch": branch, "worktree": worktree, "role_plan": role_plan}
    record = session.store.add_plan(
        ticket_id,
        PlanKind(kind),
        author=session.author,
        related_ticket=related_ticket,
        note=note,
        accepted_plan={key: value for key, value in given.items() if value is not None},
    )
    session.emit(plan_dict(record), lambda: out.plans_text([record]))


@plan.command(name="list")
@click.option(
    "--ticket", "ticket_id", metavar="ID", callback=_ID, help="Only this ticket's records."
)
@_json_option
@click.pass_obj
def plan_list(session: _Session, ticket_id: str | None) -> None:
    """Plan records, by ticket, in the order they were written."""
    records = session.store.plans(ticket_id=ticket_id)
    document: JSON = {
        "items": [plan_dict(record) for record in records],
        "total": len(records),
        "returned": len(records),
    }
    session.emit(document, lambda: out.plans_text(records))


@ticket.command()
@_json_option
@click.pass_obj
@click.pass_context
def doctor(ctx: click.Context, session: _Session) -> None:
    """Check every ticket file; exit status 1 when there are errors."""
    from yoi.tickets.doctor import diagnose

    report = diagnose(session.store.root)
    findings = [
        {
            "severity": str(f.severity),
            "ticket_id": f.ticket_id,
            "path": f.path,
            "code": f.code,
            "message": f.message,
        }
        for f in report.findings
    ]
    document: JSON = {
        "ok": report.ok,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "findings": findings,
    }
    rows = [(f["severity"], f["path"], f["code"], f["message"]) for f in findings]
    summary = f"{len(report.errors)} errors, {len(report.warnings)} warnings"
    session.emit(
        document, lambda: out.table(("SEVERITY", "PATH", "CODE", "MESSAGE"), rows) + f"\n{summary}"
    )
    if not report.ok:
        ctx.exit(1)
