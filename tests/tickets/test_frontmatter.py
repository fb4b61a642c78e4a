"""``item.md``'s front matter against breaking values: each reads back exactly or is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tickets.rig import AUTHOR, make, new_store

from yoi.errors import InvalidRequest, TicketUnreadable
from yoi.tickets import Meta, State
from yoi.tickets.frontmatter import (
    FIELD_ORDER,
    FrontMatterError,
    format_value,
    parse_item,
    render_item,
    set_fields,
)
from yoi.tickets.thread import LINE_BREAKS

AT = "2026-01-02T03:04:05Z"
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FRAGMENTS = [*LINE_BREAKS, "\ufeff", "\x00", "\t", "---", "state: done", "'", '"', "\\", ": ", "#"]
# Any text at all (lone surrogates aside: they cannot be written as UTF-8).
values = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=10).map("".join)
LOADERS = [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)]


def raw_fields(text: str) -> object:
    """The front matter as YAML loads it, whether or not its values make a ticket."""
    head = text.split("\n---\n", 1)[0].removeprefix("---\n")
    return yaml.load(head, Loader=LOADERS[-1])


def meta(title: str, *, assignee: str | None = None, priority: str | None = None) -> Meta:
    return Meta(
        title=title,
        state=State.PLANNING,
        created_at=AT,
        updated_at=AT,
        assignee=assignee,
        priority=priority,
    )


# the titles


@pytest.mark.parametrize(
    "title", ["harmless\u2028state: done", "a\u2028---\u2028state: done", "x\x85y", "p\u2029q"]
)
def test_a_title_that_holds_a_line_break_is_refused(tmp_path: Path, title: str) -> None:
    store = new_store(tmp_path)

    with pytest.raises(InvalidRequest) as refused:
        store.create(title, "", author=AUTHOR)

    assert refused.value.details == {"field": "title"}
    assert store.listing().total == 0


def test_a_title_read_back_survives_every_move(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = store.create("harmless 'state: done' \ufeff\u00a0日本語", "", author=AUTHOR).id

    for target in (State.READY, State.QUEUED, State.INPROGRESS, State.DONE):
        store.move(ticket, target, author=AUTHOR)

    item = parse_item((store.root / ticket / "item.md").read_text(encoding="utf-8"))
    assert item.meta.title == "harmless 'state: done' \ufeff\u00a0日本語"
    assert item.meta.state is State.DONE


# writing a value


@PROPERTY
@given(value=values)
@pytest.mark.parametrize("loader", LOADERS)
def test_any_value_is_written_on_one_line_and_reads_back(
    loader: type[yaml.SafeLoader], value: str
) -> None:
    written = format_value(value)

    assert not any(char in LINE_BREAKS for char in written)
    assert yaml.load(f"key: {written}\nnext: 1\n", Loader=loader) == {"key": value, "next": 1}


def test_plain_values_keep_the_original_single_quotes() -> None:
    assert format_value("It's 日本語: ok") == "'It''s 日本語: ok'"
    assert format_value("a\u2028b") == '"a\\u2028b"'
    assert format_value('q"\\\x85') == '"q\\"\\\\\\x85"'


@PROPERTY
@given(
    title=values.filter(lambda v: v.strip() != ""),
    assignee=values,
    priority=values,
    body=st.text(max_size=20),
)
def test_any_new_item_reads_back_to_its_values(
    title: str, assignee: str, priority: str, body: str
) -> None:
    written = meta(title, assignee=assignee, priority=priority)

    item = parse_item(render_item(written, body))

    assert item.meta == written
    assert set(item.fields) == {
        "title",
        "state",
        "created_at",
        "updated_at",
        "assignee",
        "priority",
    }


@PROPERTY
@given(key=st.sampled_from([k for k in FIELD_ORDER if k != "state"]), value=values)
def test_any_field_update_changes_that_field_alone(key: str, value: str) -> None:
    original = render_item(meta("Title", assignee="alice"), "Body.\n")
    before = parse_item(original).fields

    changed = set_fields(original, {key: value, "state": "ready"})

    assert raw_fields(changed) == {**before, key: value, "state": "ready"}
    assert changed.endswith("---\n\nBody.\n")


@PROPERTY
@given(title=values)
def test_any_title_through_the_store_reads_back_or_is_refused(title: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = new_store(Path(folder))
        try:
            ticket = store.create(title, "", author=AUTHOR).id
        except InvalidRequest:
            assert store.listing().total == 0
            return
        store.move(ticket, State.READY, author=AUTHOR)

        item = parse_item((store.root / ticket / "item.md").read_text(encoding="utf-8"))
        assert item.meta.title == title.strip()
        assert (item.meta.state, set(item.fields)) == (
            State.READY,
            {"title", "state", "created_at", "updated_at", "assignee"},
        )


# hand-written files


def test_an_update_that_would_change_another_field_is_refused(tmp_path: Path) -> None:
    """YAML folds a quoted title over two lines; its second line only looks like a field."""
    store = new_store(tmp_path)
    ticket = make(store)
    item = store.root / ticket / "item.md"
    text = item.read_text(encoding="utf-8").replace(
        "title: 'A ticket'", "title: 'A ticket\nstate: done'"
    )
    item.write_text(text, encoding="utf-8")
    assert store.get(ticket).meta.title == "A ticket state: done"

    with pytest.raises(TicketUnreadable) as refused:
        store.move(ticket, State.READY, author=AUTHOR)

    assert "cannot be updated in place" in refused.value.message
    assert item.read_text(encoding="utf-8") == text
    with pytest.raises(FrontMatterError):
        set_fields(text, {"state": "ready"})


def test_a_duplicate_key_is_refused_rather_than_half_updated() -> None:
    text = "---\ntitle: 'T'\nstate: 'planning'\nstate: 'ready'\ncreated_at: 'x'\n---\n"

    with pytest.raises(FrontMatterError):
        set_fields(text, {"state": "queued"})


def test_an_item_with_a_byte_order_mark_can_be_moved(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    item = store.root / ticket / "item.md"
    item.write_bytes(b"\xef\xbb\xbf" + item.read_bytes())

    store.move(ticket, State.READY, author=AUTHOR)

    assert item.read_bytes().startswith(b"\xef\xbb\xbf---\n")
    assert store.get(ticket).meta.state is State.READY
