"""The on-disk format: every sample ticket reads, untouched bytes stay, writes match the original.

The sample is the original yoi's own ``.yoi`` folder. Reads go straight to it
(nothing is written by a read); every test that writes copies it first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.tickets.rig import (
    AUTHOR,
    SAMPLE,
    SAMPLE_IDS,
    Clock,
    changed_lines,
    copy_sample,
    make,
    new_store,
    snapshot,
)

from yoi.tickets import (
    EventKind,
    Language,
    PlanKind,
    RelationKind,
    ReviewStatus,
    State,
    TicketConfig,
    TicketStore,
)
from yoi.tickets.thread import parse_thread, render_event

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
# Event headers the sample quotes inside fenced code blocks: text, not events.
FENCED_HEADERS = {"00001KSKBPMP8": 2}


def sample_store() -> TicketStore:
    """The read-only sample, with no cache file: reading it writes nothing."""
    config = TicketConfig.load(SAMPLE / "ticket.config.toml")
    return TicketStore(SAMPLE / "tickets", config=config)


def copied(tmp_path: Path) -> tuple[Path, TicketStore, Clock]:
    workspace = copy_sample(tmp_path)
    clock = Clock()
    return workspace, TicketStore.for_workspace(workspace, clock=clock), clock


# reading the sample


@pytest.mark.parametrize("ticket", SAMPLE_IDS)
def test_every_sample_ticket_reads_whole(ticket: str) -> None:
    folder = SAMPLE / "tickets" / ticket
    detail = sample_store().get(ticket)

    assert detail.problems == ()
    assert detail.meta.title.strip()
    assert STAMP.fullmatch(detail.meta.created_at)
    assert STAMP.fullmatch(detail.meta.updated_at)
    thread = (folder / "thread.md").read_text(encoding="utf-8")
    headers = len(re.findall(r"^<!-- event:", thread, flags=re.MULTILINE))
    assert len(detail.events) == headers - FENCED_HEADERS.get(ticket, 0)
    assert all(event.author and STAMP.fullmatch(event.at) for event in detail.events)
    relations = folder / "artifacts" / "relations.json"
    if relations.exists():
        entries = json.loads(relations.read_text(encoding="utf-8"))["relations"]
        assert [(r.kind.value, r.target) for r in detail.relations] == [
            (e["kind"], e["target"]) for e in entries
        ]
    plans = folder / "artifacts" / "orchestration-plan.jsonl"
    lines = plans.read_text(encoding="utf-8").splitlines() if plans.exists() else []
    assert [p.id for p in detail.plans] == [json.loads(line)["id"] for line in lines]
    resolution = folder / "resolution.md"
    expected = resolution.read_text(encoding="utf-8") if resolution.exists() else None
    assert detail.resolution == expected
    names = sorted(p.name for p in (folder / "artifacts").iterdir() if p.name != ".gitkeep")
    assert list(detail.artifacts) == names


def test_the_sample_lists_every_ticket_by_state() -> None:
    listing = sample_store().listing()

    assert [t.id for t in listing.items] == SAMPLE_IDS
    assert (listing.total, listing.invalid) == (23, {})
    states = [t.meta.state for t in listing.items]
    assert {s: states.count(s) for s in set(states)} == {
        State.CLOSED: 12,
        State.DONE: 10,
        State.PLANNING: 1,
    }


def test_sample_relations_derive_their_inverses() -> None:
    detail = sample_store().get("00001KVZKSTJT")

    dependants = {i.ticket_id for i in detail.inverses if i.kind == "dependency_of"}
    assert "00001KW04A8K6" in dependants
    assert all(i.kind != "depends_on" for i in detail.inverses)


def test_fenced_event_headers_are_text_not_events() -> None:
    detail = sample_store().get("00001KSKBPMP8")

    assert [(e.kind, e.author) for e in detail.events] == [
        ("migration", "tickets.sh-migration"),
        ("close", "hare"),
    ]
    assert "<!-- event: comment author: hare at: 2026-05-26T12:40:00Z -->" in detail.events[1].body
    assert detail.events[1].attr("status") == "closed"


def test_unknown_kinds_and_legacy_attributes_are_read() -> None:
    migration = sample_store().get("00001KSKBP8Z8").events[0]
    legacy = [e for e in sample_store().get("00001KTJM0QY0").events if e.kind == "state_changed"]

    assert (migration.kind, migration.heading) == ("migration", "Migrated")
    assert legacy[0].attrs == (
        ("from", "intake"),
        ("to", "ready"),
        ("reason", "intake_ready"),
        ("field", "workflow_state"),
    )


# writing next to what exists


def test_mutations_leave_every_other_byte_alone(tmp_path: Path) -> None:
    workspace, store, clock = copied(tmp_path)
    before = snapshot(workspace)
    planning, done, closed = "00001KVV01P5Z", "00001KVZ9JGK0", "00001KSKBP9YG"

    store.comment(planning, "A note.", author=AUTHOR)
    store.move(planning, State.READY, author=AUTHOR, summary="Scoped.")
    store.add_relation(planning, RelationKind.DEPENDS_ON, done, author=AUTHOR)
    store.add_plan(planning, PlanKind.BEFORE, author=AUTHOR, related_ticket="00001KW04A8K6")
    store.move(done, State.CLOSED, author=AUTHOR, resolution="Accepted.")
    store.review(closed, ReviewStatus.APPROVE, "Still fine.", author=AUTHOR)
    created = store.create("New", "", author=AUTHOR).id
    after = snapshot(workspace)

    touched = {f".yoi/tickets/{t}/item.md" for t in (planning, done, closed)}
    logs = {f".yoi/tickets/{t}/thread.md" for t in (planning, done, closed)}
    for key, data in before.items():
        if key in logs:
            assert isinstance(data, bytes)
            assert after[key][: len(data)] == data, key
        elif key not in touched:
            assert after[key] == data, key
    for key in touched:
        old, new = before[key], after[key]
        assert isinstance(old, bytes)
        assert isinstance(new, bytes)
        assert {a.split(b":")[0] for a, _ in changed_lines(old, new)} <= {b"state", b"updated_at"}
    added = {k.removeprefix(".yoi/tickets/") for k in set(after) - set(before)}
    assert {k for k in added if not k.startswith(created)} == {
        ".ticket-backend.lock",
        f"{planning}/artifacts/relations.json",
        f"{planning}/artifacts/orchestration-plan.jsonl",
        f"{done}/resolution.md",
    }
    assert clock.stamp in store.get(planning).meta.updated_at


def test_a_field_update_rewrites_only_its_line(tmp_path: Path) -> None:
    _, store, clock = copied(tmp_path)
    item = store.root / "00001KSKBP8Z8" / "item.md"
    before = item.read_bytes()

    store.comment("00001KSKBP8Z8", "Late note.", author=AUTHOR)

    assert changed_lines(before, item.read_bytes()) == [
        (b'updated_at: "2026-06-05T15:56:29Z"\n', f"updated_at: '{clock.stamp}'\n".encode())
    ]


def test_a_move_rewrites_state_and_updated_at_only(tmp_path: Path) -> None:
    _, store, clock = copied(tmp_path)
    item = store.root / "00001KVZ9JGK0" / "item.md"
    before = item.read_bytes()

    store.move("00001KVZ9JGK0", State.CLOSED, author=AUTHOR, resolution="Accepted.")

    assert changed_lines(before, item.read_bytes()) == [
        (b"state: 'done'\n", b"state: 'closed'\n"),
        (b"updated_at: '2026-06-26T08:09:07Z'\n", f"updated_at: '{clock.stamp}'\n".encode()),
    ]


def test_queueing_a_double_quoted_item_replaces_present_fields_in_place(tmp_path: Path) -> None:
    _, store, clock = copied(tmp_path)
    item = store.root / "00001KTJM0QY0" / "item.md"
    item.write_bytes(item.read_bytes().replace(b'state: "closed"', b'state: "ready"'))
    before = item.read_bytes()

    store.move("00001KTJM0QY0", State.QUEUED, author="alice")

    stamp = clock.stamp.encode()
    assert changed_lines(before, item.read_bytes()) == [
        (b'state: "ready"\n', b"state: 'queued'\n"),
        (b'updated_at: "2026-06-08T06:10:59Z"\n', b"updated_at: '" + stamp + b"'\n"),
        (b'queued_by: "workspace-panel"\n', b"queued_by: 'alice'\n"),
        (b'queued_at: "2026-06-08T05:46:20Z"\n', b"queued_at: '" + stamp + b"'\n"),
    ]


def test_missing_fields_are_inserted_before_the_closing_line(tmp_path: Path) -> None:
    _, store, clock = copied(tmp_path)
    item = store.root / "00001KSKBP8Z8" / "item.md"
    original = item.read_bytes().replace(b'state: "closed"', b'state: "ready"')
    item.write_bytes(original)

    store.move("00001KSKBP8Z8", State.QUEUED, author="o'brien")

    stamp = clock.stamp.encode()
    head, rest = original.split(b"\n---\n", 1)
    head = head.replace(b'state: "ready"', b"state: 'queued'")
    head = head.replace(b'updated_at: "2026-06-05T15:56:29Z"', b"updated_at: '" + stamp + b"'")
    inserted = b"queued_by: 'o''brien'\nqueued_at: '" + stamp + b"'"
    assert item.read_bytes() == head + b"\n" + inserted + b"\n---\n" + rest


def test_crlf_items_keep_their_line_endings(tmp_path: Path) -> None:
    _, store, clock = copied(tmp_path)
    item = store.root / "00001KVV01P5Z" / "item.md"
    before = item.read_bytes().replace(b"\n", b"\r\n")
    item.write_bytes(before)

    store.comment("00001KVV01P5Z", "Windows.", author=AUTHOR)

    assert changed_lines(before, item.read_bytes()) == [
        (b"updated_at: '2026-06-25T16:38:49Z'\r\n", f"updated_at: '{clock.stamp}'\r\n".encode())
    ]


def test_new_items_are_written_in_the_canonical_form(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = store.create(" It's 'quoted' ", "Body line.", author="yoi ticket").id
    folder = store.root / ticket

    assert (folder / "item.md").read_text(encoding="utf-8") == (
        "---\n"
        "title: 'It''s ''quoted'''\n"
        "state: 'planning'\n"
        "created_at: '2026-01-02T03:04:05Z'\n"
        "updated_at: '2026-01-02T03:04:05Z'\n"
        "assignee: null\n"
        "---\n"
        "\n"
        "Body line.\n"
    )
    assert (folder / "thread.md").read_text(encoding="utf-8") == (
        '<!-- event: create author: "yoi ticket" at: 2026-01-02T03:04:05Z -->\n'
        "\n## Created\n\nCreated with yoi.\n\n---\n"
    )
    assert (folder / "artifacts" / ".gitkeep").read_bytes() == b""
    assert sorted(p.name for p in folder.iterdir()) == ["artifacts", "item.md", "thread.md"]


@pytest.mark.parametrize(
    ("front", "state"),
    [
        ("workflow_state: intake", State.PLANNING),
        ("workflow_state: 'queued'", State.QUEUED),
        ('status: "closed"', State.CLOSED),
        ("status: done", State.DONE),
        ("status: open", State.PLANNING),
        ("state: intake", State.PLANNING),
        ("state: inprogress\nworkflow_state: done", State.INPROGRESS),
    ],
)
def test_legacy_state_fields_are_a_fallback(tmp_path: Path, front: str, state: State) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    item = store.root / ticket / "item.md"
    item.write_text(
        f"---\ntitle: Legacy\n{front}\ncreated_at: 2026-05-27T00:00:13Z\n---\n\nOld.\n",
        encoding="utf-8",
    )

    meta = store.get(ticket).meta

    assert (meta.state, meta.title) == (state, "Legacy")
    assert meta.created_at == meta.updated_at == "2026-05-27T00:00:13Z"
    assert [s.meta.state for s in store.listing().items] == [state]


def test_moving_a_legacy_item_adds_state_and_keeps_the_old_field(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)
    item = store.root / ticket / "item.md"
    item.write_text(
        "---\ntitle: Legacy\nworkflow_state: intake\ncreated_at: 2026-05-27T00:00:13Z\n---\n\n",
        encoding="utf-8",
    )

    store.move(ticket, State.READY, author=AUTHOR)

    assert item.read_text(encoding="utf-8") == (
        "---\ntitle: Legacy\nworkflow_state: intake\ncreated_at: 2026-05-27T00:00:13Z\n"
        "state: 'ready'\nupdated_at: '2026-01-02T03:04:05Z'\n---\n\n"
    )
    assert store.get(ticket).meta.state is State.READY


# thread.md


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("yoi-ticket_2.0", "yoi-ticket_2.0"),
        ("日本語", "日本語"),
        ("x:", "x:"),
        ("two words", '"two words"'),
        ("tab\there", '"tab\there"'),
        (" padded ", '" padded "'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ('end\\"', r'"end\\\""'),
        ("key: value", '"key: value"'),
        ("", '""'),
        ("a-->b", '"a-->b"'),
        ("-->", '"-->"'),
        ("ends -->", '"ends -->"'),
    ],
)
def test_header_values_round_trip(value: str, written: str) -> None:
    block = render_event(
        "comment", value, "2026-01-02T03:04:05Z", heading=None, body="b", attrs=[("reason", value)]
    )

    assert block.splitlines()[0] == (
        f"<!-- event: comment author: {written} at: 2026-01-02T03:04:05Z reason: {written} -->"
    )
    thread = parse_thread(block)
    assert thread.problems == ()
    assert (thread.events[0].author, thread.events[0].attr("reason")) == (value, value)


def test_an_author_with_an_arrow_is_read_back(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    ticket = make(store)

    store.comment(ticket, "Hello.", author="me-->you")

    detail = store.get(ticket)
    assert detail.problems == ()
    assert [e.author for e in detail.events] == [AUTHOR, "me-->you"]


def test_legacy_review_attributes_are_kept() -> None:
    text = (
        "<!-- event: review author: bob at: 2026-05-26T13:00:00Z reviewer: carol "
        'result: "request changes" -->\n\n## Review\n\nOld style.\n\n---\n'
    )

    event = parse_thread(text).events[0]

    assert event.attrs == (("reviewer", "carol"), ("result", "request changes"))
    assert (event.attr("status"), event.heading, event.body) == (None, "Review", "Old style.")


def test_appending_keeps_unknown_and_legacy_events(tmp_path: Path) -> None:
    _, store, _ = copied(tmp_path)
    thread = store.root / "00001KTJM0QY0" / "thread.md"
    before = thread.read_bytes()
    old = store.get("00001KTJM0QY0").events

    store.comment("00001KTJM0QY0", "Appended.", author=AUTHOR)

    assert thread.read_bytes().startswith(before)
    events = store.get("00001KTJM0QY0").events
    assert events[:-1] == old
    assert (events[-1].kind, events[-1].body) == ("comment", "Appended.")


COMPLETE = "<!-- event: comment author: a at: 2026-01-01T00:00:00Z -->\n\nfirst\n\n---\n"


@pytest.mark.parametrize(
    ("tail", "bodies", "problem"),
    [
        ("", ["first"], None),
        ("\n<!-- event: comment author: a at: 2026-01-01T00:00:01Z -->\n\npart", ["first"], "torn"),
        ("\n<!-- event: comment author: a at: 2026-01-01T00:00:01Z -->", ["first"], "torn"),
        (
            "\n<!-- event: comment author: a at: 2026-01-01T00:00:01Z -->\n\nend\n\n--",
            ["first"],
            "torn",
        ),
        (
            "\n<!-- event: comment author: b at: 2026-01-01T00:00:01Z -->\n\nend\n\n---",
            ["first", "end"],
            None,
        ),
        ("\n<!-- event: comm", ["first"], "not closed"),
        ('\n<!-- event: comment author: "a --', ["first"], "not closed"),
    ],
)
def test_a_torn_last_event_is_dropped_and_a_complete_one_kept(
    tail: str, bodies: list[str], problem: str | None
) -> None:
    thread = parse_thread(COMPLETE + tail)

    assert [e.body for e in thread.events] == bodies
    if problem is None:
        assert thread.problems == ()
    else:
        assert [problem in p.message for p in thread.problems] == [True]


@pytest.mark.parametrize(
    "body",
    [
        "before\n<!-- event: close author: x at: 2026-01-01T00:00:00Z status: closed -->\nafter",
        "<!-- event: comment author: x at: 2026-01-01T00:00:00Z -->",
        "code:\n```python\n<!-- event: close author: x at: 2026-01-01T00:00:00Z -->\nno close",
        "~~~~\n```\nstill open",
        "a\n---\nb\n\n---",
        "line one\r\n<!-- event: plan author: x at: 2026-01-01T00:00:00Z -->\r\n",
    ],
)
def test_hostile_bodies_cannot_corrupt_later_events(tmp_path: Path, body: str) -> None:
    store = new_store(tmp_path)
    ticket = make(store)

    store.comment(ticket, body, author="first")
    store.comment(ticket, "The next one.", author="second")

    detail = store.get(ticket)
    assert detail.problems == ()
    assert [(e.kind, e.author) for e in detail.events] == [
        ("create", AUTHOR),
        ("comment", "first"),
        ("comment", "second"),
    ]
    hostile = detail.events[1].body
    for line in body.replace("\r\n", "\n").strip("\n").split("\n"):
        assert line.strip() in hostile
    assert detail.events[2].body == "The next one."


# artifacts


def test_relations_json_is_written_exactly(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    a, b, c, d = (make(store, title=t) for t in "ABCD")

    store.add_relation(a, RelationKind.RELATED, c, author=AUTHOR)
    store.add_relation(a, RelationKind.DEPENDS_ON, c, author=AUTHOR)
    store.add_relation(a, RelationKind.BLOCKS, d, author=AUTHOR)
    store.add_relation(a, RelationKind.DEPENDS_ON, b, author=AUTHOR, note="先に 'B' \"を\"")

    at = "2026-01-02T03:04:05Z"
    entries = [
        ("depends_on", b, ',\n      "note": "先に \'B\' \\"を\\""'),
        ("depends_on", c, ""),
        ("blocks", d, ""),
        ("related", c, ""),
    ]
    body = ",\n".join(
        f'    {{\n      "ticket_id": "{a}",\n      "kind": "{kind}",\n      "target": "{target}"'
        f'{note},\n      "author": "{AUTHOR}",\n      "at": "{at}"\n    }}'
        for kind, target, note in entries
    )
    expected = '{\n  "version": 1,\n  "relations": [\n' + body + "\n  ]\n}\n"
    assert (store.root / a / "artifacts" / "relations.json").read_text(encoding="utf-8") == expected
    assert store.get(b).relations == ()


def test_plan_lines_are_compact_and_numbered(tmp_path: Path) -> None:
    clock = Clock()
    store = new_store(tmp_path, clock)
    a, b = make(store), make(store)

    store.add_plan(a, PlanKind.BEFORE, author=AUTHOR, related_ticket=b)
    clock.advance(61.5)
    store.add_plan(a, PlanKind.WAITING_CAPACITY_NOTE, author=AUTHOR, note="二つまで")
    store.add_plan(
        a, PlanKind.ACCEPTED_PLAN, author=AUTHOR, accepted_plan={"summary": "Go", "branch": "t/a"}
    )

    assert (store.root / a / "artifacts" / "orchestration-plan.jsonl").read_text(
        encoding="utf-8"
    ) == (
        f'{{"id":"orch-plan-20260102-030405-1","ticket_id":"{a}","kind":"before",'
        f'"related_ticket":"{b}","author":"tester","at":"2026-01-02T03:04:05Z"}}\n'
        f'{{"id":"orch-plan-20260102-030506-2","ticket_id":"{a}","kind":"waiting_capacity_note",'
        f'"note":"二つまで","author":"tester","at":"2026-01-02T03:05:06Z"}}\n'
        f'{{"id":"orch-plan-20260102-030506-3","ticket_id":"{a}","kind":"accepted_plan",'
        f'"accepted_plan":{{"summary":"Go","branch":"t/a"}},"author":"tester",'
        f'"at":"2026-01-02T03:05:06Z"}}\n'
    )
    assert [p.id[-2:] for p in store.plans(ticket_id=a)] == ["-1", "-2", "-3"]


def test_plan_numbers_continue_after_the_lines_present(tmp_path: Path) -> None:
    _, store, _ = copied(tmp_path)
    plans = store.root / "00001KW04A8K6" / "artifacts" / "orchestration-plan.jsonl"
    before = plans.read_bytes()

    record = store.add_plan(
        "00001KW04A8K6", PlanKind.CONFLICTS_WITH, author=AUTHOR, related_ticket="00001KVZKSTJT"
    )

    assert record.id == "orch-plan-20260102-030405-6"
    assert plans.read_bytes().startswith(before)
    assert json.loads(plans.read_bytes()[len(before) :])["id"] == record.id


@pytest.mark.parametrize("text", ["Merged and accepted.", "Two lines\n\nof resolution.\n"])
def test_closing_writes_resolution_md(tmp_path: Path, text: str) -> None:
    store = new_store(tmp_path)
    ticket = make(store, State.DONE)

    store.move(ticket, State.CLOSED, author=AUTHOR, resolution=text)

    written = (store.root / ticket / "resolution.md").read_text(encoding="utf-8")
    assert written == text.rstrip("\n") + "\n"
    assert store.get(ticket).resolution == written


@pytest.mark.parametrize(
    ("language", "created", "body", "closed"),
    [
        (Language.EN, "Created", "Created with yoi.", "Closed"),
        (Language.JA, "作成", "yoi によって作成されました。", "完了"),
    ],
)
def test_default_headings_follow_the_language(
    tmp_path: Path, language: Language, created: str, body: str, closed: str
) -> None:
    store = new_store(tmp_path, config=TicketConfig(language=language))
    ticket = make(store)

    store.move(ticket, State.CLOSED, author=AUTHOR, resolution="Fine.")

    events = store.get(ticket).events
    assert (events[0].kind, events[0].heading, events[0].body) == ("create", created, body)
    assert (events[-2].kind, events[-2].heading) == ("state_changed", "State changed")
    assert (events[-1].kind, events[-1].heading, events[-1].body) == ("close", closed, "Fine.")


def test_the_sample_config_writes_japanese(tmp_path: Path) -> None:
    _, store, _ = copied(tmp_path)

    ticket = store.create("日本語のチケット", "本文", author=AUTHOR).id

    assert store.get(ticket).events[0].heading == "作成"
    assert EventKind.CREATE.value in (store.root / ticket / "thread.md").read_text("utf-8")
