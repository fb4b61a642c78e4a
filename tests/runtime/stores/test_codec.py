"""Events that name transcript entries, through the store's codec and the wire form."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from yoi.runtime.events import (
    Event,
    TextDoneEvent,
    ToolCallFinishedEvent,
    ToolCallStartedEvent,
)
from yoi.runtime.stores.codec import decode_event, encode_event, is_delta, line_key
from yoi.runtime.wire import read_event

ids = st.text("abcdefghjkmnpqrstvwxyz0123456789-", min_size=1, max_size=16)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
sequences = st.none() | st.integers(1, 2**53)
bodies = st.one_of(
    st.builds(TextDoneEvent, ids, texts, sequences),
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
