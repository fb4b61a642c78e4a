"""Events name the transcript entry they became, and the backend relays that to the browser.

The same test runs against an embedded and a remote runtime: for the remote
one the number goes through the runtime server, the client and the relay.
"""

from __future__ import annotations

from tests.backend.rig import Stack, script

from yoi.providers.script import Call, Text

NAMING = ("text_done", "tool_call_started", "tool_call_finished")


@script([Text("ready")], [Text("looking"), Call("missing", {"q": 1}, id="c1")], [Text("done")])
async def test_text_and_tool_events_carry_their_transcript_sequence_to_the_browser(
    stack: Stack,
) -> None:
    await stack.create(worker_id="numbered")
    async with stack.observe("numbered") as watch:
        await watch.frame()
        await stack.send("numbered", "warm up")
        await watch.until("run_finished")
        await stack.send("numbered", "look it up")
        frames = await watch.until("run_finished")
    response = await stack.http.get(stack.path("numbered", "transcript"))
    entries = {item["sequence"]: item for item in response.json()["transcript"]["items"]}
    named = [frame["event"] for frame in frames if frame["event"]["type"] in NAMING]
    assert [event["type"] for event in named] == [
        "text_done",
        "tool_call_started",
        "tool_call_finished",
        "text_done",
    ]
    for event in named:
        sequence = event["transcript_sequence"]
        assert type(sequence) is int
        entry = entries[sequence]
        assert entry["run_id"] == event["run_id"]
        if event["type"] == "text_done":
            assert (entry["role"], entry["content"]) == ("assistant", event["text"])
        else:
            assert entry["role"] == "tool"
            assert entry["tool"]["call_id"] == event["call_id"]
            assert entry["tool"]["result"] is (event["type"] == "tool_call_finished")
    assert len({event["transcript_sequence"] for event in named}) == len(named)
