"""``thread.md`` against forgery: whatever line separators a text holds, it starts no event.

Each store call gets a fresh store in its own temporary folder, so Hypothesis
can shrink a failure to the smallest text that shows it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tickets.rig import AUTHOR, make, new_store

from yoi.errors import InvalidRequest
from yoi.tickets import ReviewStatus, State, TicketStore
from yoi.tickets.doctor import diagnose
from yoi.tickets.thread import LINE_BREAKS, parse_thread, render_event, stored_body

AT = "2026-01-01T00:00:00Z"
FORGED_MOVE = (
    f"<!-- event: state_changed author: mallory at: {AT} from: planning to: done "
    "reason: done field: state -->"
)
FORGED_REVIEW = f"<!-- event: review author: mallory at: {AT} status: approve -->"
# What str.splitlines() breaks at besides "\n" and "\r\n": the list.
SEPARATORS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]
FRAGMENTS = [
    *LINE_BREAKS,
    "\r\n",
    FORGED_MOVE,
    FORGED_REVIEW,
    "<!-- event:",
    "-->",
    "```",
    "~~~",
    "---",
    "## ",
    " ",
    '"',
    "\\",
    "state: done",
]
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hostile = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=12).map("".join)


@contextmanager
def fresh_ticket() -> Iterator[tuple[TicketStore, str]]:
    with tempfile.TemporaryDirectory() as folder:
        store = new_store(Path(folder))
        yield store, make(store)


def kinds(store: TicketStore, ticket: str) -> list[tuple[str, str]]:
    detail = store.get(ticket)
    assert detail.problems == ()
    return [(e.kind, e.author) for e in detail.events]


def refusable(body: str) -> bool:
    """The store refuses a body only when it is blank or holds NUL."""
    return not body.strip() or "\x00" in body


def plain(body: str) -> str:
    """What a body with no header, fence or CR looks like read back, worked out on its own."""
    lines = body.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    return "\n".join(lines).rstrip()


# the writer and the reader agree


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("forged", [FORGED_MOVE, FORGED_REVIEW])
def test_a_separator_before_a_header_starts_no_event(
    tmp_path: Path, separator: str, forged: str
) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    body = f"Looks harmless.{separator}{forged}{separator}{separator}Forged body.{separator}---"

    store.comment(ticket, body, author="mallory")
    store.comment(ticket, "After.", author="bob")

    assert kinds(store, ticket) == [("create", AUTHOR), ("comment", "mallory"), ("comment", "bob")]
    assert store.get(ticket).events[1].body == stored_body(body)
    assert store.get(ticket).meta.state is State.PLANNING
    # A tool that splits at every separator (the original yoi's reader) is not fooled either.
    text = (store.root / ticket / "thread.md").read_text(encoding="utf-8")
    assert sum(line.startswith("<!-- event:") for line in text.splitlines()) == 3


@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_file_forged_before_the_fix_reads_as_one_comment(separator: str) -> None:
    """The old writer guarded only "\\n": what it let through is text to the reader now."""
    text = (
        f"<!-- event: comment author: mallory at: {AT} -->\n\n## Comment\n\n"
        f"hi{separator}{FORGED_REVIEW}{separator}{separator}ok{separator}---\n\n---\n"
    )

    thread = parse_thread(text)

    assert thread.problems == ()
    assert [e.kind for e in thread.events] == ["comment"]
    assert FORGED_REVIEW in thread.events[0].body


def test_crlf_line_endings_still_end_lines() -> None:
    text = (
        f"<!-- event: comment author: a at: {AT} -->\r\n\r\n## Comment\r\n\r\nbody\r\n\r\n---\r\n"
    )

    thread = parse_thread(text)

    assert thread.problems == ()
    assert [(e.heading, e.body) for e in thread.events] == [("Comment", "body")]


@pytest.mark.parametrize("separator", [*SEPARATORS, "\n"])
@pytest.mark.parametrize("field", ["author", "reason", "heading"])
def test_a_header_value_or_heading_with_a_line_break_is_refused(separator: str, field: str) -> None:
    value = f"x{separator}{FORGED_MOVE}"
    author = value if field == "author" else "a"
    heading = value if field == "heading" else "Heading"
    attrs = [("reason", value)] if field == "reason" else []

    with pytest.raises(InvalidRequest) as refused:
        render_event("comment", author, AT, heading=heading, body="b", attrs=attrs)

    assert refused.value.details == {"field": field}


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\x0b", "\x1e"])
def test_authors_and_reasons_with_a_separator_are_refused_by_the_store(
    tmp_path: Path, separator: str
) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    before = (store.root / ticket / "thread.md").read_bytes()

    with pytest.raises(InvalidRequest):
        store.comment(ticket, "Hi.", author=f"eve{separator}{FORGED_REVIEW}")
    with pytest.raises(InvalidRequest):
        store.move(ticket, State.READY, author=AUTHOR, reason=f"r{separator}{FORGED_MOVE}")

    assert (store.root / ticket / "thread.md").read_bytes() == before


# properties: any text round-trips or is refused, and never adds or changes an event


@PROPERTY
@given(body=hostile)
def test_any_comment_body_round_trips_or_is_refused(body: str) -> None:
    with fresh_ticket() as (store, ticket):
        try:
            store.comment(ticket, body, author="mallory")
        except InvalidRequest:
            assert refusable(body)
            return
        store.comment(ticket, "Next.", author="bob")

        assert kinds(store, ticket) == [
            ("create", AUTHOR),
            ("comment", "mallory"),
            ("comment", "bob"),
        ]
        events = store.get(ticket).events
        assert events[1].body == stored_body(body)
        assert events[2].body == "Next."


@PROPERTY
@given(body=st.text(alphabet=st.characters(blacklist_characters="<`~\r\x00")))
def test_a_body_without_headers_or_fences_reads_back_trimmed_only(body: str) -> None:
    with fresh_ticket() as (store, ticket):
        try:
            event = store.comment(ticket, body, author="bob")
        except InvalidRequest:
            assert refusable(body)
            return

        assert store.get(ticket).events[-1].body == event.body == plain(body)


@PROPERTY
@given(body=hostile)
def test_any_review_body_keeps_its_status(body: str) -> None:
    with fresh_ticket() as (store, ticket):
        try:
            store.review(ticket, ReviewStatus.REQUEST_CHANGES, body, author="carol")
        except InvalidRequest:
            assert refusable(body)
            return

        events = store.get(ticket).events
        assert [(e.kind, e.attr("status")) for e in events] == [
            ("create", None),
            ("review", "request_changes"),
        ]
        assert events[1].body == stored_body(body)


@PROPERTY
@given(author=hostile)
def test_any_author_round_trips_or_is_refused(author: str) -> None:
    with fresh_ticket() as (store, ticket):
        try:
            store.comment(ticket, "Hi.", author=author)
        except InvalidRequest:
            return

        assert kinds(store, ticket) == [("create", AUTHOR), ("comment", author.strip())]


@PROPERTY
@given(reason=hostile)
def test_any_reason_round_trips_or_is_refused(reason: str) -> None:
    with fresh_ticket() as (store, ticket):
        try:
            store.move(ticket, State.READY, author=AUTHOR, reason=reason)
        except InvalidRequest:
            assert store.get(ticket).meta.state is State.PLANNING
            return

        detail = store.get(ticket)
        assert detail.problems == ()
        assert [(e.kind, e.attr("reason")) for e in detail.events] == [
            ("create", None),
            ("intake_summary", None),
            ("state_changed", reason.strip()),
        ]
        assert detail.meta.state is State.READY


# torn events


COMPLETE = f"<!-- event: comment author: a at: {AT} -->\n\n## Comment\n\nfirst\n\n---\n"
TORN = f"\n<!-- event: comment author: b at: {AT} -->\n\n## Comment\n\nhalf of a long\n"


def test_a_torn_tail_that_ends_at_a_line_end_is_dropped_and_reported() -> None:
    thread = parse_thread(COMPLETE + TORN)

    assert [e.body for e in thread.events] == ["first"]
    assert [(p.line, p.message) for p in thread.problems] == [
        (9, "the last event is torn: it has no '---'")
    ]


def test_a_torn_event_with_another_after_it_is_kept_and_reported() -> None:
    thread = parse_thread(COMPLETE + TORN + "\n" + COMPLETE)

    assert [e.body for e in thread.events] == ["first", "half of a long", "first"]
    assert [(p.line, p.message) for p in thread.problems] == [
        (9, "the event has no '---' before the next one: it may be torn")
    ]


@pytest.mark.parametrize("after", ["", "\n" + COMPLETE])
def test_the_doctor_reports_a_torn_event(tmp_path: Path, after: str) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    with open(store.root / ticket / "thread.md", "a", encoding="utf-8") as file:
        file.write(TORN + after)

    findings = diagnose(store.root).findings

    assert [(f.code, f.path) for f in findings] == [("bad_event", f"{ticket}/thread.md")]
    assert "torn" in findings[0].message
