"""The Companion's workspace tools, each against a real ticket store in ``tmp_path``."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tickets.rig import AUTHOR, Clock, make, new_store

from yoi.backend.workspace_tools import COMPANION_AUTHOR, workspace_tools
from yoi.backend.workspace_tools_text import MAX_CONTENT
from yoi.engine.tool import Tool, ToolResult
from yoi.errors import InvalidRequest
from yoi.tickets import RelationKind, State, TicketStore
from yoi.tickets.inputs import MAX_TEXT_BYTES
from yoi.tickets.lock import store_lock

NAMES = (
    "list_tickets",
    "show_ticket",
    "search_tickets",
    "ready_tickets",
    "create_ticket",
    "comment_ticket",
)


class Tools:
    """The six tools over one store, called by name as the engine calls them."""

    def __init__(self, store: TicketStore, author: str = COMPANION_AUTHOR) -> None:
        self.store = store
        self.by_name: dict[str, Tool] = {tool.name: tool for tool in workspace_tools(store, author)}

    async def __call__(self, name: str, **arguments: object) -> ToolResult:
        result = await self.by_name[name].call(arguments)
        assert result.summary, result
        assert "\n" not in result.summary, result
        return result


@pytest.fixture
def store(tmp_path: Path) -> TicketStore:
    return new_store(tmp_path)


@pytest.fixture
def tools(store: TicketStore) -> Tools:
    return Tools(store)


def lines_of(result: ToolResult) -> list[str]:
    assert not result.is_error, result
    return result.text.split("\n")


def test_the_six_tools_each_with_a_strict_schema(tools: Tools) -> None:
    assert tuple(tools.by_name) == NAMES
    for tool in tools.by_name.values():
        assert tool.parameters["type"] == "object"
        assert tool.parameters["additionalProperties"] is False
        assert tool.description


def test_a_bad_author_is_refused_when_the_tools_are_made(store: TicketStore) -> None:
    with pytest.raises(InvalidRequest, match="author"):
        workspace_tools(store, "two\nlines")


# list_tickets


async def test_list_shows_the_newest_first_and_filters_by_state(
    store: TicketStore, tools: Tools
) -> None:
    first = make(store, State.PLANNING, "First idea")
    queued = make(store, State.QUEUED, "Second, queued")
    last = make(store, State.PLANNING, "Third idea")

    everything = await tools("list_tickets")
    assert everything.summary == "3 of 3 tickets, newest first"
    assert [line.split("\t")[0] for line in lines_of(everything)[1:]] == [last, queued, first]

    planning = await tools("list_tickets", state="planning")
    assert planning.summary == "2 of 2 tickets in planning, newest first"
    assert [line.split("\t")[:2] for line in lines_of(planning)[1:]] == [
        [last, "planning"],
        [first, "planning"],
    ]


async def test_list_is_bounded_by_its_limit_and_says_how_many_are_left(
    store: TicketStore, tools: Tools
) -> None:
    made = [make(store, title=f"Ticket {n}") for n in range(5)]
    result = await tools("list_tickets", limit=2)
    assert result.summary == "2 of 5 tickets, newest first"
    assert lines_of(result)[1:] == [
        *(
            f"{i}\tplanning\t{store.get(i).meta.updated_at}\tTicket {n}"
            for n, i in ((4, made[4]), (3, made[3]))
        ),
        "… and 3 more tickets not shown",
    ]


# show_ticket


async def test_show_gives_the_item_and_the_tail_of_its_thread(
    store: TicketStore, tools: Tools
) -> None:
    ticket = store.create("Make the board faster", "It is slow with 10k tickets.", author=AUTHOR).id
    for n in range(12):
        store.comment(ticket, f"comment number {n}", author=AUTHOR)

    result = await tools("show_ticket", id=ticket.lower(), events=3)
    assert result.summary == f"{ticket}: Make the board faster (planning, 13 events)"
    text = result.text
    assert "It is slow with 10k tickets." in text
    assert "thread: the last 3 of 13 events" in text
    assert [n for n in range(12) if f"comment number {n}\n" in text + "\n"] == [9, 10, 11]


async def test_show_names_what_a_ticket_waits_for(store: TicketStore, tools: Tools) -> None:
    blocker = make(store, State.PLANNING, "Blocker")
    ticket = make(store, State.PLANNING, "Waiter")
    store.add_relation(ticket, RelationKind.DEPENDS_ON, blocker, author=AUTHOR)
    text = (await tools("show_ticket", id=ticket)).text
    assert f"waits for: {blocker} (planning, via depends_on)" in text
    assert f"relations: depends_on {blocker}" in text


async def test_show_bounds_a_huge_body_and_huge_events(store: TicketStore, tools: Tools) -> None:
    body = "b" * (MAX_TEXT_BYTES - 10)
    ticket = store.create("Huge", body, author=AUTHOR).id
    for _ in range(20):
        store.comment(ticket, "c" * (MAX_TEXT_BYTES - 10), author=AUTHOR)
    result = await tools("show_ticket", id=ticket, events=50)
    assert len(result.text) < MAX_CONTENT + 100
    assert "more characters not shown" in result.text


async def test_show_of_a_missing_ticket_is_an_error_result(tools: Tools) -> None:
    result = await tools("show_ticket", id="00001KVZKSTE2")
    assert result.is_error
    assert result.summary == "show_ticket: no ticket 00001KVZKSTE2"


async def test_show_of_an_unreadable_ticket_is_an_error_result(
    store: TicketStore, tools: Tools
) -> None:
    ticket = make(store)
    (store.root / ticket / "item.md").write_text("---\ntitle: [unclosed\n", encoding="utf-8")
    result = await tools("show_ticket", id=ticket)
    assert result.is_error
    assert result.summary.startswith(f"show_ticket: {ticket}")


# search_tickets


async def test_search_finds_title_body_and_thread_ignoring_case(
    store: TicketStore, tools: Tools
) -> None:
    in_title = store.create("Fix the Flaky test", "", author=AUTHOR).id
    in_body = store.create("Other", "The FLAKY one is in tests/x.py\nmore", author=AUTHOR).id
    in_thread = store.create("Third", "nothing here", author=AUTHOR).id
    store.comment(in_thread, "first line\nseen flaky again today", author="ana")
    store.create("Unrelated", "no match", author=AUTHOR)

    result = await tools("search_tickets", query="flaky")
    assert result.summary == "3 tickets match 'flaky'"
    assert lines_of(result)[1:] == [
        f"{in_thread}\tplanning\tcomment by ana\tThird",
        "    seen flaky again today",
        f"{in_body}\tplanning\tbody\tOther",
        "    The FLAKY one is in tests/x.py",
        f"{in_title}\tplanning\ttitle\tFix the Flaky test",
    ]


async def test_search_is_bounded_and_says_more_match(store: TicketStore, tools: Tools) -> None:
    for n in range(4):
        store.create(f"match {n}", "", author=AUTHOR)
    result = await tools("search_tickets", query="match", limit=2)
    assert result.summary == "2+ tickets match 'match'"
    assert lines_of(result)[-1] == "… more tickets match; narrow the query or raise limit"
    assert len(lines_of(result)) == 4


async def test_search_skips_an_unreadable_ticket_and_says_so(
    store: TicketStore, tools: Tools
) -> None:
    broken = make(store, title="one")
    good = store.create("two", "needle", author=AUTHOR).id
    (store.root / broken / "item.md").write_text("---\ntitle: [unclosed\n", encoding="utf-8")
    result = await tools("search_tickets", query="needle")
    assert not result.is_error
    assert result.text.startswith(f"ID\tSTATE\tWHERE\tTITLE\n{good}\t")


# ready_tickets


async def test_ready_explains_why_each_ticket_starts_or_waits(
    store: TicketStore, tools: Tools
) -> None:
    unblocked = make(store, State.QUEUED, "Go")
    planned = make(store, State.PLANNING, "Still planning")
    held = make(store, State.READY, "Held back")
    store.add_relation(held, RelationKind.DEPENDS_ON, planned, author=AUTHOR)
    free = make(store, State.READY, "Free to queue")
    later = make(store, State.READY, "Queue then wait")
    store.add_relation(later, RelationKind.DEPENDS_ON, unblocked, author=AUTHOR)
    waiting = make(store, State.READY, "Waits in the queue")
    store.add_relation(waiting, RelationKind.DEPENDS_ON, unblocked, author=AUTHOR)
    store.move(waiting, State.QUEUED, author=AUTHOR)

    result = await tools("ready_tickets")
    assert result.summary == (
        "1 queued and ready, 1 queued but waiting, 3 in ready awaiting a person's queue"
    )
    text = result.text
    queued_at = store.get(unblocked).meta.queued_at
    assert f"{unblocked}\tqueued {queued_at}\tGo" in text
    assert f"{waiting}\tWaits in the queue\twaits for {unblocked} (queued, via depends_on)" in text
    assert (
        f"{held}\tHeld back\tcannot be queued yet: {planned} (planning, via depends_on) not done"
        in text
    )
    assert f"{free}\tFree to queue\tcan be queued\n" in text
    assert (
        f"{later}\tQueue then wait\tcan be queued, "
        f"then waits for {unblocked} (queued, via depends_on)" in text
    )
    assert "Only a person queues a ticket" in text


# create_ticket and comment_ticket


async def test_create_makes_a_planning_ticket_signed_by_the_companion(
    store: TicketStore, tools: Tools
) -> None:
    result = await tools("create_ticket", title="Dark mode", body="For the console.")
    assert not result.is_error
    ticket = result.summary.split()[1]
    assert result.summary == f"created {ticket} in planning: Dark mode"
    item = (store.root / ticket / "item.md").read_text(encoding="utf-8")
    thread = (store.root / ticket / "thread.md").read_text(encoding="utf-8")
    assert "\nstate: 'planning'\n" in item
    assert item.endswith("\n\nFor the console.\n")
    assert f"<!-- event: create author: {COMPANION_AUTHOR} " in thread


async def test_comment_appends_to_the_thread_signed_by_the_companion(
    store: TicketStore, tools: Tools
) -> None:
    ticket = make(store, State.READY)
    result = await tools("comment_ticket", id=ticket.lower(), body="Looks ready to me.")
    assert result.summary.startswith(f"commented on {ticket} as {COMPANION_AUTHOR} at ")
    thread = (store.root / ticket / "thread.md").read_text(encoding="utf-8")
    assert f"<!-- event: comment author: {COMPANION_AUTHOR} " in thread
    assert thread.rstrip().endswith("Looks ready to me.\n\n---")
    assert store.get(ticket).meta.state is State.READY


async def test_a_custom_author_signs_what_the_tools_write(store: TicketStore) -> None:
    tools = Tools(store, author="companion@ws")
    result = await tools("create_ticket", title="Signed")
    ticket = result.summary.split()[1]
    assert store.get(ticket).events[0].author == "companion@ws"


# hostile arguments


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("list_tickets", {"state": "queued!"}, "'state' must be one of all, planning"),
        ("list_tickets", {"limit": 0}, "'limit' must be an integer from 1 to 100"),
        ("list_tickets", {"limit": True}, "'limit' must be an integer from 1 to 100"),
        ("list_tickets", {"limit": 10**100}, "'limit' must be an integer from 1 to 100"),
        ("list_tickets", {"sort": "title"}, "unknown argument(s): 'sort'"),
        ("show_ticket", {}, "'id' is required"),
        ("show_ticket", {"id": None}, "'id' is required"),
        ("show_ticket", {"id": 7}, "'id' must be a string"),
        ("show_ticket", {"id": "../../etc"}, "ticket id must be 13 characters"),
        ("show_ticket", {"id": "00001KVZKSTE2", "events": -1}, "'events' must be an integer"),
        ("search_tickets", {"query": ""}, "query must be a non-empty string"),
        ("search_tickets", {"query": "a\nb"}, "query must be one line of text"),
        ("search_tickets", {"query": "q" * 201}, "query is 201 characters; at most 200"),
        ("search_tickets", {"query": ["x"]}, "'query' must be a string"),
        ("ready_tickets", {"explain": True}, "unknown argument(s): 'explain'"),
        ("create_ticket", {"body": "no title"}, "'title' is required"),
        ("create_ticket", {"title": "two\nlines"}, "title must be one line of text"),
        ("create_ticket", {"title": "t" * 301}, "title is 301 characters; at most 300"),
        ("create_ticket", {"title": "\ud800"}, "'title' is not valid Unicode"),
        ("create_ticket", {"title": "x", "body": "\x00"}, "'body' must not contain a NUL"),
        ("create_ticket", {"title": "x", "state": "queued"}, "unknown argument(s): 'state'"),
        (
            "create_ticket",
            {"title": "x", "body": "b" * (MAX_TEXT_BYTES + 1)},
            "body is 262,145 bytes",
        ),
        ("comment_ticket", {"id": "00001KVZKSTE2"}, "'body' is required"),
        ("comment_ticket", {"id": "00001KVZKSTE2", "body": " "}, "body must not be empty"),
        ("comment_ticket", {"id": "00001KVZKSTE2", "body": "x"}, "no ticket 00001KVZKSTE2"),
        ("comment_ticket", {"id": "nope", "body": "x"}, "id must be 13 characters"),
    ],
)
async def test_hostile_arguments_are_error_results_with_a_clear_message(
    store: TicketStore, tools: Tools, name: str, arguments: dict[str, object], message: str
) -> None:
    before = sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []
    result = await tools(name, **arguments)
    assert result.is_error
    assert result.summary.startswith(f"{name}: ")
    assert message in result.text
    after = sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []
    assert [n for n in after if not n.startswith(".")] == [
        n for n in before if not n.startswith(".")
    ]


async def test_a_held_store_lock_is_an_error_result_and_the_loop_stays_free(
    tmp_path: Path,
) -> None:
    store = new_store(tmp_path, Clock(), lock_wait=1.0)
    store.init()
    tools = Tools(store)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(store.root, wait=5):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        await anyio.to_thread.run_sync(held.wait)
        call = asyncio.create_task(tools("create_ticket", title="Blocked"))
        # the call waits for the lock in a worker thread: this coroutine goes on meanwhile
        free = asyncio.Event()
        asyncio.get_running_loop().call_soon(free.set)
        await asyncio.wait_for(free.wait(), 5)
        assert not call.done()
        result = await asyncio.wait_for(call, 10)
    finally:
        release.set()
        await anyio.to_thread.run_sync(holder.join)
    assert result.is_error
    assert "another writer held the ticket store lock" in result.summary


# any arguments

TEXT = st.text(max_size=20) | st.sampled_from(["00001KVZKSTE2", "planning", "queued", ""])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
ARGUMENTS = st.dictionaries(
    st.sampled_from(["id", "title", "body", "query", "state", "limit", "events", "x"]) | TEXT,
    JSON,
    max_size=4,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(NAMES), arguments=ARGUMENTS)
async def test_any_arguments_give_a_result_and_never_move_a_ticket(
    tmp_path: Path, name: str, arguments: dict[str, object]
) -> None:
    store = new_store(tmp_path / "any")
    if not store.root.exists():
        make(store, State.READY, "Ready one")
        make(store, State.QUEUED, "Queued one")
    states = {s.id: s.meta.state for s in store.listing().items}
    result = await workspace_tools(store)[NAMES.index(name)].call(arguments)
    assert isinstance(result, ToolResult)
    assert result.summary
    assert "\n" not in result.summary
    assert len(result.text) < MAX_CONTENT + 100
    after = {s.id: s.meta.state for s in store.listing().items}
    assert {i: s for i, s in after.items() if i in states} == states
    assert all(s is State.PLANNING for i, s in after.items() if i not in states)


async def test_a_hand_edited_ticket_stays_on_one_line_of_the_listing(
    store: TicketStore, tools: Tools
) -> None:
    ticket = make(store)
    (store.root / ticket / "item.md").write_text(
        '---\ntitle: "odd\\ttitle\\u2028here"\nstate: planning\n'
        'created_at: "2026-01-01T00:00:00Z"\nupdated_at: "2026-01-01\\n00:00"\n---\n\nBody\n',
        encoding="utf-8",
    )
    result = await tools("list_tickets")
    assert lines_of(result)[1:] == [f"{ticket}\tplanning\t2026-01-01 00:00\todd title here"]
    shown = await tools("show_ticket", id=ticket)
    assert lines_of(shown)[:2] == [
        f"{ticket}: odd title here",
        "state: planning; created 2026-01-01T00:00:00Z; updated 2026-01-01 00:00",
    ]


async def test_search_finds_a_ticket_by_part_of_its_id(store: TicketStore, tools: Tools) -> None:
    ticket = make(store, title="Nothing alike")
    result = await tools("search_tickets", query=ticket[-6:].lower())
    assert lines_of(result)[1:] == [f"{ticket}\tplanning\tid\tNothing alike"]
