"""The conversation fold (no widgets): events, snapshots and older pages into display items."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from yoi.tui.display import cut_points, format_arguments, looks_like_diff
from yoi.tui.transcript import Conversation

RUN = "r1"


def frame(kind: str, **body: Any) -> dict[str, Any]:
    return {"seq": 1, "at": "", "worker_id": "w", "event": {"type": kind, **body}}


def entry(sequence: int, role: str, content: str, **more: Any) -> dict[str, Any]:
    return {"sequence": sequence, "role": role, "content": content, "run_id": RUN, **more}


def kinds_and_texts(conversation: Conversation) -> list[tuple[str, str]]:
    return [(item.kind, item.text) for item in conversation.items]


chunks = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=40)


@given(chunks)
def test_deltas_in_any_pieces_make_one_reply(pieces: list[str]) -> None:
    conversation = Conversation()
    conversation.apply(frame("input_accepted", run_id=RUN, content="hi", queued=False))
    for piece in pieces:
        conversation.apply(frame("text_delta", run_id=RUN, text=piece))
    reply = conversation.items[-1]
    assert (reply.kind, reply.text, reply.live) == ("assistant", "".join(pieces), True)
    conversation.apply(frame("text_done", run_id=RUN, text="".join(pieces), transcript_sequence=2))
    assert kinds_and_texts(conversation) == [("user", "hi"), ("assistant", "".join(pieces))]
    assert not reply.live
    assert reply.sequence == 2


@given(chunks)
def test_changes_name_each_new_item_once_and_each_changed_item_once(pieces: list[str]) -> None:
    conversation = Conversation()
    assert conversation.take_changes().reset
    for piece in pieces:
        conversation.apply(frame("text_delta", run_id=RUN, text=piece))
    changes = conversation.take_changes()
    assert [item.kind for item in changes.appended] == ["assistant"]
    assert changes.updated == []  # it is new: drawn whole
    conversation.apply(frame("text_delta", run_id=RUN, text="more"))
    conversation.apply(frame("text_delta", run_id=RUN, text="again"))
    later = conversation.take_changes()
    assert (later.appended, [item.kind for item in later.updated]) == ([], ["assistant"])
    assert not conversation.take_changes()


def test_a_snapshot_starts_over_with_its_tail_run_and_approvals() -> None:
    conversation = Conversation()
    conversation.apply(frame("text_delta", run_id="old", text="forgotten"))
    approval = {
        "approval_id": "a1",
        "call_id": "c1",
        "tool": "deploy",
        "arguments": '{"target": "production"}',
        "rule": "deploy -> ask",
        "run_id": RUN,
    }
    conversation.snapshot(
        {
            "worker": {"status": "running", "display_name": "ops", "approvals": [approval]},
            "transcript_tail": [entry(4, "user", "ship it")],
            "run": {"run_id": RUN, "text": "On it", "thinking": "hmm"},
        }
    )
    assert conversation.take_changes().reset
    assert conversation.status == "running"
    assert kinds_and_texts(conversation) == [
        ("user", "ship it"),
        ("thinking", "hmm"),
        ("assistant", "On it"),
        ("tool", ""),
    ]
    [pending] = conversation.pending_approvals
    assert pending.arguments == '{"target": "production"}'
    assert pending.approval is not None
    conversation.apply(frame("approval_resolved", approval_id="a1", decision="deny", by="me"))
    assert conversation.pending_approvals == []
    assert (pending.approval.decision, pending.approval.by) == ("deny", "me")
    assert (conversation.oldest, conversation.more_before) == (4, True)


@given(st.integers(min_value=2, max_value=30), st.integers(min_value=1, max_value=10))
def test_older_pages_never_show_an_entry_twice(total: int, page: int) -> None:
    conversation = Conversation()
    everything = [entry(n, "user" if n % 2 else "assistant", f"m{n}") for n in range(1, total + 1)]
    conversation.snapshot({"worker": {}, "transcript_tail": everything[-page:], "run": None})
    while conversation.more_before:
        oldest = conversation.oldest
        assert oldest is not None
        start = max(1, oldest - page)
        # a page overlapping what is shown, as a page read around a boundary would
        assert conversation.older(everything[start - 1 : oldest + 1]) == oldest - start
    assert [item.sequence for item in conversation.items] == list(range(1, total + 1))


def test_a_tool_call_and_its_result_are_one_item_live_or_read() -> None:
    live = Conversation()
    live.apply(frame("tool_call_started", run_id=RUN, call_id="c1", name="echo", arguments="{}"))
    live.apply(
        frame(
            "tool_call_finished",
            run_id=RUN,
            call_id="c1",
            name="echo",
            summary="1 line",
            is_error=False,
            truncated=False,
            transcript_sequence=3,
        )
    )
    assert live.unread_results == [3]
    result = entry(3, "tool", "the output", tool={"call_id": "c1", "name": "echo", "result": True})
    live.fill_result(result)
    read = Conversation()
    call = entry(2, "tool", "{}", tool={"call_id": "c1", "name": "echo", "result": False})
    read.snapshot({"worker": {}, "transcript_tail": [call, result], "run": None})
    for conversation in (live, read):
        [item] = conversation.items
        assert (item.name, item.arguments, item.result, item.done) == (
            "echo",
            "{}",
            "the output",
            True,
        )


def test_a_cancelled_run_cuts_its_reply_and_says_so() -> None:
    conversation = Conversation()
    conversation.apply(frame("text_delta", run_id=RUN, text="Half"))
    conversation.apply(frame("run_finished", run_id=RUN, result="cancelled"))
    reply, notice = conversation.items
    assert (reply.cut, reply.live, notice.text) == ("cancelled", False, "run cancelled")


def test_a_queued_input_waits_until_its_run_starts() -> None:
    conversation = Conversation()
    conversation.apply(frame("input_accepted", run_id="r2", content="later", queued=True))
    assert conversation.items[0].queued
    conversation.apply(frame("run_started", run_id="r2", model="m"))
    assert not conversation.items[0].queued


@given(st.text(alphabet="ab \n", max_size=400), st.integers(min_value=2, max_value=50))
def test_cut_points_split_a_text_in_bounded_blocks_the_same_way_as_it_grows(
    text: str, block: int
) -> None:
    cuts = cut_points(text, 0, block)
    edges = [0, *cuts]
    assert all(0 < b - a <= block for a, b in zip(edges, cuts, strict=False))
    assert len(text) - edges[-1] <= block
    # cutting a prefix, then going on from its last cut, gives the same cuts
    half = len(text) // 2
    early = cut_points(text[:half], 0, block)
    assert early == cuts[: len(early)]
    assert cut_points(text, early[-1] if early else 0, block) == cuts[len(early) :]


def test_arguments_are_indented_and_diffs_are_recognised() -> None:
    assert format_arguments('{"a": 1}') == '{\n  "a": 1\n}'
    assert format_arguments("not json") == "not json"
    assert looks_like_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    assert not looks_like_diff("just text\n@@ not a diff")
