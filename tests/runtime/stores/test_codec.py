"""Events that name transcript entries, and the entries, through the store's codec and the
wire form."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.runtime.events import (
    Event,
    TextDoneEvent,
    ToolCallFinishedEvent,
    ToolCallStartedEvent,
)
from yoi.runtime.stores.codec import (
    BadRecord,
    decode_event,
    decode_transcript,
    encode_event,
    encode_transcript,
    is_delta,
    line_key,
)
from yoi.runtime.transcript import Role, ToolEntry, TranscriptEntry, TranscriptPage
from yoi.runtime.wire import WireError, read_event, read_transcript_page

ids = st.text("abcdefghjkmnpqrstvwxyz0123456789-", min_size=1, max_size=16)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
sequences = st.none() | st.integers(1, 2**53)
cuts = st.none() | st.just("cancelled") | texts
bodies = st.one_of(
    st.builds(TextDoneEvent, ids, texts, sequences, cuts),
    st.builds(ToolCallStartedEvent, ids, ids, texts, texts, sequences),
    st.builds(
        ToolCallFinishedEvent, ids, ids, texts, texts, st.booleans(), st.booleans(), sequences
    ),
)


@given(seqs=st.lists(st.integers(1, 2**40), min_size=1, max_size=5, unique=True), data=st.data())
def test_events_naming_entries_round_trip_through_the_store_codec(
    seqs: list[int], data: st.DataObject
) -> None:
    events = [Event(seq, 1.25, "w-one", data.draw(bodies)) for seq in sorted(seqs)]
    lines = b"".join(encode_event(event) for event in events).split(b"\n")[:-1]
    assert len(lines) == len(events)  # no text can break a record's line
    for line, event in zip(lines, events, strict=True):
        assert line_key(line) == event.seq
        assert not is_delta(line)
        assert decode_event(line, "w-one") == event


@given(seq=st.integers(1, 2**40), body=bodies)
def test_events_naming_entries_round_trip_through_the_wire_form(
    seq: int, body: TextDoneEvent | ToolCallStartedEvent | ToolCallFinishedEvent
) -> None:
    raw = json.loads(json.dumps(Event(seq, 1.25, "w-one", body).to_dict()))
    assert raw["event"]["transcript_sequence"] == body.transcript_sequence
    assert read_event(raw).event == body


def test_records_written_before_the_field_existed_still_read() -> None:
    lines = [
        b'{"seq":7,"at":1.5,"worker_id":"w-one","event":'
        b'{"type":"text_done","run_id":"r1","text":"hello"}}',
        b'{"seq":8,"at":1.5,"worker_id":"w-one","event":{"type":"tool_call_started",'
        b'"run_id":"r1","call_id":"c1","name":"upper","arguments":"{}"}}',
        b'{"seq":9,"at":1.5,"worker_id":"w-one","event":{"type":"tool_call_finished",'
        b'"run_id":"r1","call_id":"c1","name":"upper","summary":"done","is_error":false,'
        b'"truncated":false}}',
    ]
    decoded = [decode_event(line, "w-one").event for line in lines]
    assert decoded == [
        TextDoneEvent("r1", "hello"),
        ToolCallStartedEvent("r1", "c1", "upper", "{}"),
        ToolCallFinishedEvent("r1", "c1", "upper", "done", False, False),
    ]
    for body in decoded:
        assert isinstance(body, TextDoneEvent | ToolCallStartedEvent | ToolCallFinishedEvent)
        assert body.transcript_sequence is None


tools = st.none() | st.builds(ToolEntry, ids, ids, st.booleans(), st.booleans(), st.none() | texts)
entries = st.builds(
    TranscriptEntry,
    st.integers(1, 2**53),
    st.sampled_from(Role),
    texts,
    st.integers(0, 2**31).map(lambda ms: ms / 1000),
    st.none() | ids,
    tools,
    cuts,
)


@given(items=st.lists(entries, min_size=1, max_size=5))
def test_transcript_entries_round_trip_through_the_store_codec_cut_or_not(
    items: list[TranscriptEntry],
) -> None:
    lines = b"".join(encode_transcript(item, "w-one") for item in items).split(b"\n")[:-1]
    assert len(lines) == len(items)
    assert [decode_transcript(line, "w-one") for line in lines] == items


@given(items=st.lists(entries, max_size=5))
def test_transcript_entries_round_trip_through_the_wire_form_cut_or_not(
    items: list[TranscriptEntry],
) -> None:
    page = TranscriptPage(tuple(items), len(items), 1)
    raw = json.loads(json.dumps(page.to_dict()))
    for item, body in zip(items, raw["items"], strict=True):
        assert body.get("cut") == item.cut
        assert ("cut" in body) == (item.cut is not None)  # absent, not null, when not cut
    assert read_transcript_page(raw).items == page.items


def test_transcript_records_written_before_cut_existed_still_read() -> None:
    line = (
        b'{"seq":2,"worker_id":"w-one","role":"assistant","content":"hello",'
        b'"at":1.5,"run_id":"r1","tool":null}'
    )
    assert decode_transcript(line, "w-one") == TranscriptEntry(
        2, Role.ASSISTANT, "hello", 1.5, "r1"
    )


def test_a_cut_that_is_not_text_is_refused_typed() -> None:
    line = (
        b'{"seq":2,"worker_id":"w-one","role":"assistant","content":"hello",'
        b'"at":1.5,"run_id":"r1","tool":null,"cut":7}'
    )
    with pytest.raises(BadRecord):
        decode_transcript(line, "w-one")
    body = {"sequence": 2, "role": "assistant", "content": "x", "at": "2026-01-01T00:00:00Z"}
    page = {"items": [{**body, "run_id": "r1", "cut": 7}], "total": 1, "start": 1}
    with pytest.raises(WireError):
        read_transcript_page({**page, "next_start": None})
