"""Asking a worker once across crashes: an input found in the transcript is not sent again —
unless its runtime never knew it (a process killed between the transcript entry and the
input's acceptance), when the input was lost and is sent again."""

from __future__ import annotations

from typing import Any, cast

from yoi.orchestrator.asks import ask
from yoi.orchestrator.hosts import WorkerHost
from yoi.runtime import Input, InputAck
from yoi.runtime.events import Event, InputAccepted
from yoi.runtime.transcript import Role, TranscriptEntry, TranscriptPage
from yoi.runtime.views import EventPage

WORKER = "yoi-intake-x"
TEXT = "[yoi-orchestrator intake X op=X/1/intake/0]\nRead the ticket."


class Transcripts:
    """The three calls :func:`ask` makes of a runtime, over a transcript and an event log."""

    def __init__(self, entries: list[str], known: list[str]) -> None:
        self.entries = [
            TranscriptEntry(n, Role.USER, TEXT, 0.0, run_id=run) for n, run in enumerate(entries, 1)
        ]
        self.log = [
            Event(n, 0.0, WORKER, InputAccepted(run, TEXT, False, None))
            for n, run in enumerate(known, 1)
        ]
        self.sent: list[str] = []

    async def transcript(self, worker_id: str, start: int = 1, limit: int | None = None) -> Any:
        return TranscriptPage(tuple(self.entries[start - 1 :]), len(self.entries), start)

    async def events(
        self, worker_id: str, *, after: str | None = None, limit: int | None = None
    ) -> Any:
        page = () if after is not None else tuple(self.log)
        return EventPage(page, "end")

    async def send_input(self, worker_id: str, item: Input | str) -> InputAck:
        run = f"r-new-{len(self.sent) + 1}"
        self.sent.append(run)
        self.entries.append(
            TranscriptEntry(len(self.entries) + 1, Role.USER, TEXT, 0.0, run_id=run)
        )
        self.log.append(
            Event(len(self.log) + 1, 0.0, WORKER, InputAccepted(run, TEXT, False, None))
        )
        return InputAck(WORKER, run, len(self.entries), len(self.log), False)


def host_of(fake: Transcripts) -> WorkerHost:
    return cast(WorkerHost, fake)


async def test_an_input_its_runtime_accepted_is_not_sent_again() -> None:
    fake = Transcripts(["r-1"], known=["r-1"])
    assert await ask(host_of(fake), WORKER, TEXT) == "r-1"
    assert fake.sent == []


async def test_an_entry_whose_input_was_lost_in_a_crash_is_sent_again_once() -> None:
    fake = Transcripts(["r-lost"], known=[])
    assert await ask(host_of(fake), WORKER, TEXT) == "r-new-1"
    assert await ask(host_of(fake), WORKER, TEXT) == "r-new-1"  # found the second time
    assert fake.sent == ["r-new-1"]


async def test_a_new_input_is_sent() -> None:
    fake = Transcripts([], known=[])
    assert await ask(host_of(fake), WORKER, TEXT) == "r-new-1"
