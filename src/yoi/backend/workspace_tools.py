"""The Companion's workspace tools: the tickets read, and written to in ``planning`` only.

Six tools over the backend's :class:`~yoi.tickets.TicketStore`, for the embedded
runtime's Companion: ``list_tickets``, ``show_ticket``, ``search_tickets``,
``ready_tickets``, ``create_ticket`` and ``comment_ticket``. None moves a ticket: a new
one starts in ``planning``, and queueing stays a person's gate. Arguments are read
strictly (unknown names, wrong types, oversize text refused); every failure, the store's
included, is an error result with its message, never an exception. The store works on
files under a lock another writer may hold for a moment, so each call runs in a worker
thread, as the tickets API's do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from yoi.backend.workspace_tools_text import (
    Hit,
    clip,
    detail_text,
    hits_text,
    listing_text,
    one_line,
    ready_text,
    snippet,
)
from yoi.engine.model import ToolSpec
from yoi.engine.tool import Tool, ToolResult
from yoi.errors import TicketUnreadable
from yoi.tickets import State, TicketStore, TicketSummary
from yoi.tickets import inputs as ticket_inputs
from yoi.tickets.folder import TicketFolder
from yoi.tickets.ids import ticket_id as canonical_id
from yoi.tickets.lifecycle import Graph
from yoi.tickets.views import ready_of
from yoi.tools import Arguments, BlockingTool

__all__ = ["COMPANION_AUTHOR", "READING", "reading_tools", "workspace_tools"]

COMPANION_AUTHOR = "yoi-companion"
"""Who the Companion's tickets and comments are by, in ``thread.md``."""

MAX_LIST = 100
MAX_SEARCH = 50
MAX_EVENTS = 50
MAX_QUERY = 200
MAX_MESSAGE = 2_000
_STATES = ("all", *(state.value for state in State))


def workspace_tools(store: TicketStore, author: str = COMPANION_AUTHOR) -> tuple[Tool, ...]:
    """The six tools over ``store``; what they write is signed by ``author``."""
    workspace = _Workspace(store, ticket_inputs.line(author, "author"))
    return (
        _ticket_tool(LIST_TICKETS, workspace.listing),
        _ticket_tool(SHOW_TICKET, workspace.show),
        _ticket_tool(SEARCH_TICKETS, workspace.search),
        _ticket_tool(READY_TICKETS, workspace.ready),
        _ticket_tool(CREATE_TICKET, workspace.create),
        _ticket_tool(COMMENT_TICKET, workspace.comment),
    )


READING = frozenset({"list_tickets", "show_ticket", "search_tickets", "ready_tickets"})
"""The tools that only read tickets: an intake worker holds these and nothing else."""


def reading_tools(tools: tuple[Tool, ...]) -> tuple[Tool, ...]:
    """The reading ones of :func:`workspace_tools`."""
    return tuple(tool for tool in tools if tool.name in READING)


class _Workspace:
    """The bodies of the tools: each reads its arguments, makes its store calls, says what
    happened. They run in a worker thread."""

    def __init__(self, store: TicketStore, author: str) -> None:
        self._store = store
        self._author = author

    def listing(self, arguments: Arguments) -> ToolResult:
        state = _state(arguments.choice("state", _STATES))
        limit = arguments.integer("limit", 50, 1, MAX_LIST)
        arguments.done()
        listing = self._store.listing(state=state)
        shown = list(reversed(listing.items))[:limit]
        where = "" if state is None else f" in {state}"
        summary = f"{len(shown)} of {listing.total} tickets{where}, newest first"
        return ToolResult(summary, listing_text(shown, listing.total, listing.invalid))

    def show(self, arguments: Arguments) -> ToolResult:
        ticket_id = arguments.required_string("id")
        events = arguments.integer("events", 10, 0, MAX_EVENTS)
        arguments.done()
        detail = self._store.get(ticket_id)
        title = one_line(detail.meta.title)
        summary = f"{detail.id}: {title} ({detail.meta.state}, {len(detail.events)} events)"
        return ToolResult(summary, detail_text(detail, events))

    def search(self, arguments: Arguments) -> ToolResult:
        given = arguments.required_string("query")
        state = _state(arguments.choice("state", _STATES))
        limit = arguments.integer("limit", 20, 1, MAX_SEARCH)
        arguments.done()
        query = ticket_inputs.line(given, "query", limit=MAX_QUERY)
        hits: list[Hit] = []
        skipped = 0
        for found in self._matches(query.casefold(), state):
            if found is None:
                skipped += 1
            elif len(hits) == limit:
                return _searched(query, hits, more=True, skipped=skipped)
            else:
                hits.append(found)
        return _searched(query, hits, more=False, skipped=skipped)

    def _matches(self, needle: str, state: State | None) -> Iterator[Hit | None]:
        """Each match, newest ticket first; ``None`` for a ticket whose files cannot be read."""
        for ticket in reversed(self._store.listing(state=state).items):
            if needle in ticket.meta.title.casefold():
                yield Hit(ticket, "title")
                continue
            if needle in ticket.id.casefold():
                yield Hit(ticket, "id")
                continue
            try:
                found = self._in_texts(ticket, needle)
            except TicketUnreadable:
                yield None
                continue
            if found is not None:
                yield found

    def _in_texts(self, ticket: TicketSummary, needle: str) -> Hit | None:
        folder = TicketFolder(self._store.root, ticket.id)
        _, item = folder.item()
        found = snippet(item.body, needle)
        if found is not None:
            return Hit(ticket, "body", found)
        for event in folder.thread().events:
            found = snippet(event.body, needle)
            if found is not None:
                where = f"{one_line(event.kind, 40)} by {one_line(event.author, 100)}"
                return Hit(ticket, where, found)
        return None

    def ready(self, arguments: Arguments) -> ToolResult:
        most = arguments.integer("limit", 50, 1, MAX_LIST)
        arguments.done()
        catalog = self._store.catalog()
        view = ready_of(catalog)
        graph = Graph(catalog.relations, catalog.states())
        awaiting = [
            (TicketSummary(ticket_id, meta), graph.blockers(ticket_id))
            for ticket_id, meta in sorted(catalog.metas.items())
            if meta.state is State.READY
        ]
        summary = (
            f"{len(view.ready)} queued and ready, {len(view.waiting)} queued but waiting, "
            f"{len(awaiting)} in ready awaiting a person's queue"
        )
        return ToolResult(summary, ready_text(view, awaiting, most))

    def create(self, arguments: Arguments) -> ToolResult:
        title = arguments.required_string("title")
        body = arguments.string("body", default="")
        arguments.done()
        created = self._store.create(title, body, author=self._author)
        summary = f"created {created.id} in planning: {one_line(created.meta.title)}"
        note = "It stays in planning until a person marks it ready and queues it."
        return ToolResult(summary, f"{summary}\n{note}")

    def comment(self, arguments: Arguments) -> ToolResult:
        ticket_id = canonical_id(arguments.required_string("id"), field="id")
        body = arguments.required_string("body")
        arguments.done()
        event = self._store.comment(ticket_id, body, author=self._author)
        return ToolResult(f"commented on {ticket_id} as {event.author} at {event.at}")


def _state(choice: str) -> State | None:
    return None if choice == "all" else State(choice)


def _searched(query: str, hits: list[Hit], *, more: bool, skipped: int) -> ToolResult:
    count = f"{len(hits)}+" if more else str(len(hits))
    summary = f"{count} tickets match {one_line(query, 60)!r}"
    return ToolResult(summary, hits_text(hits, more, skipped))


def _ticket_tool(spec: ToolSpec, body: Callable[[Arguments], ToolResult]) -> Tool:
    return BlockingTool(spec, body, refusal=_refused)


def _refused(text: str) -> ToolResult:
    return ToolResult(one_line(text, 300), clip(text, MAX_MESSAGE), is_error=True)


def _object(properties: Mapping[str, object], *required: str) -> Mapping[str, object]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
    }


_ID = {"type": "string", "description": "A ticket id: 13 characters, as list_tickets shows."}
_STATE = {"type": "string", "enum": list(_STATES), "description": "Only this state (default all)."}


def _limit(default: int, most: int) -> Mapping[str, object]:
    return {"type": "integer", "minimum": 1, "maximum": most, "description": f"Default {default}."}


LIST_TICKETS = ToolSpec(
    "list_tickets",
    "List the workspace's tickets, newest first: id, state, last update and title.",
    _object({"state": _STATE, "limit": _limit(50, MAX_LIST)}),
)
SHOW_TICKET = ToolSpec(
    "show_ticket",
    "Show one ticket: its fields, what it waits for, its relations, its body and the "
    "last events of its thread.",
    _object(
        {
            "id": _ID,
            "events": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_EVENTS,
                "description": "How many of the latest thread events to show (default 10).",
            },
        },
        "id",
    ),
)
SEARCH_TICKETS = ToolSpec(
    "search_tickets",
    "Find tickets whose title, id, body or thread holds a text (ignoring case), newest "
    "first, with the line that matched.",
    _object(
        {
            "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY},
            "state": _STATE,
            "limit": _limit(20, MAX_SEARCH),
        },
        "query",
    ),
)
READY_TICKETS = ToolSpec(
    "ready_tickets",
    "The orchestrator's queue and why each ticket in it starts or waits, then the tickets "
    "in ready that a person could queue and what queueing each would meet.",
    _object({"limit": _limit(50, MAX_LIST)}),
)
CREATE_TICKET = ToolSpec(
    "create_ticket",
    "Create a ticket in planning, signed by the Companion. It never becomes ready or "
    "queued by this: a person does that.",
    _object(
        {
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "body": {"type": "string", "description": "Markdown: what and why, how to tell done."},
        },
        "title",
    ),
)
COMMENT_TICKET = ToolSpec(
    "comment_ticket",
    "Add a comment, signed by the Companion, to a ticket's thread.",
    _object({"id": _ID, "body": {"type": "string", "minLength": 1}}, "id", "body"),
)
