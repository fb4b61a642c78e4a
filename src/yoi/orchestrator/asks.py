"""Asking a worker for one thing and reading its answer, so that a restart asks only once.

A worker is created by its deterministic name (one that exists already is the same worker,
made before a crash); an input is found in the worker's transcript by its first line
(:func:`~yoi.orchestrator.prompts.header`) before it is sent; the answer is the report tool
call the worker's run made, read from its transcript once the run has ended.

A runtime that is away while a worker is made, asked, awaited or retired (stopped, killed,
starting again) is a restart's doing, not the worker's: each of these then raises
``runtime_unavailable`` with the one message :data:`INTERRUPTED`, which the orchestrator
does not count as a failed try, and the runtime's own words in the error's ``cause``. A run
its runtime cut short is answered the same way, so the worker is asked again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from yoi.engine.messages import ToolCall
from yoi.errors import (
    DuplicateWorker,
    InvalidRequest,
    RuntimeUnavailable,
    WorkerNotFound,
    WorkerStopped,
    YoiError,
)
from yoi.orchestrator.hosts import WorkerHost
from yoi.orchestrator.runs import await_run
from yoi.orchestrator.submissions import read_submission
from yoi.runtime import CreateWorkerRequest, Input, OnBusy, WorkerDetail
from yoi.runtime.events import RunFinished
from yoi.runtime.transcript import Role
from yoi.tools.reports import Report, parse_report

__all__ = ["INTERRUPTED", "Answer", "answer_of", "ask", "ensure_worker", "retire"]

INTERRUPTED = "the worker's runtime stopped or was away: tried again once it is back"

_PAGE = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """How a run ended, and the report it submitted (``None``: it submitted none)."""

    run_id: str
    result: str
    tool: str | None
    arguments: str | None

    def report(self) -> Report | None:
        if self.tool is None or self.arguments is None:
            return None
        return parse_report(ToolCall("answer", self.tool, self.arguments))

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "result": self.result,
            "tool": self.tool,
            "arguments": self.arguments,
        }

    @classmethod
    def from_dict(cls, value: dict[str, object]) -> Answer:
        run_id, result = value.get("run_id"), value.get("result")
        tool, arguments = value.get("tool"), value.get("arguments")
        if not isinstance(run_id, str) or not isinstance(result, str):
            raise InvalidRequest("a recorded answer needs run_id and result")
        return cls(
            run_id,
            result,
            tool if isinstance(tool, str) else None,
            arguments if isinstance(arguments, str) else None,
        )


async def ensure_worker(host: WorkerHost, request: CreateWorkerRequest) -> WorkerDetail:
    """The worker ``request`` names, created unless it exists already."""
    assert request.worker_id is not None, "the orchestrator names its workers"
    with _runtime_away(request.worker_id):
        try:
            return await host.create_worker(request)
        except DuplicateWorker:
            return await host.get_worker(request.worker_id)


async def ask(host: WorkerHost, worker_id: str, text: str) -> str:
    """Send ``text`` unless the worker's transcript holds it already; the run it started."""
    first_line = text.split("\n", 1)[0]
    with _runtime_away(worker_id):
        found = await _sent(host, worker_id, first_line)
        if found is not None and await _known(host, worker_id, found):
            return found
        # never sent, or its entry outlived a crash that lost the input itself: send it
        ack = await host.send_input(worker_id, Input(text, on_busy=OnBusy.ENQUEUE))
    return ack.run_id


async def answer_of(
    host: WorkerHost,
    worker_id: str,
    run_id: str,
    tools: frozenset[str],
    *,
    silence: float | None = None,
) -> Answer:
    """Wait for run ``run_id`` to end (``run_stalled`` after ``silence`` seconds without a
    sign of life) and read the last report it submitted through one of ``tools``."""
    with _runtime_away(worker_id, run_id):
        finished = await await_run(host, worker_id, run_id, silence=silence)
        submission = await read_submission(host, worker_id, tools, run_id=run_id)
    if submission is None and _interrupted(finished):
        raise RuntimeUnavailable(
            INTERRUPTED, details={"worker_id": worker_id, "run_id": run_id}
        )  # not the worker's doing: asked again, as a new input, once the runtime is back
    if submission is None:
        return Answer(run_id, finished.result, None, None)
    call = submission.call
    return Answer(run_id, finished.result, call.name, call.arguments)


@contextmanager
def _runtime_away(worker_id: str, run_id: str | None = None) -> Iterator[None]:
    """``runtime_unavailable`` raised inside, as :data:`INTERRUPTED` (see the module)."""
    try:
        yield
    except RuntimeUnavailable as error:
        if error.message == INTERRUPTED:
            raise
        details = {**error.details, "worker_id": worker_id, "cause": error.message}
        if run_id is not None:
            details["run_id"] = run_id
        raise RuntimeUnavailable(INTERRUPTED, details=details) from None


def _interrupted(finished: RunFinished) -> bool:
    """Whether the run was cut short by something other than the worker: its runtime died
    (``interrupted``, written when it starts again) or stopped in order, cancelling it
    (``cancelled``: a runtime told to stop when ``yoi serve`` dies, or a person's cancel —
    the orchestrator cancels no run it still waits for)."""
    error = finished.error or {}
    return finished.result == "cancelled" or (
        finished.result != "completed" and error.get("code") == "interrupted"
    )


async def retire(host: WorkerHost, worker_id: str | None, reason: str) -> bool:
    """Cancel the worker's run and stop it; whether there was a worker to stop."""
    if worker_id is None:
        return False
    try:
        with _runtime_away(worker_id):
            await host.cancel_worker(worker_id)
            await host.stop_worker(worker_id, reason)
    except (WorkerNotFound, WorkerStopped):
        return False
    except YoiError as error:
        if error.code in {"worker_not_found", "worker_stopped"}:
            return False
        raise
    return True


async def _sent(host: WorkerHost, worker_id: str, first_line: str) -> str | None:
    """The run of the last input in the worker's transcript that begins with ``first_line``."""
    found: str | None = None
    start: int | None = 1
    while start is not None:
        page = await host.transcript(worker_id, start, _PAGE)
        for entry in page.items:
            if entry.role is Role.USER and entry.content.split("\n", 1)[0] == first_line:
                found = entry.run_id
        start = page.next_start
    return found


async def _known(host: WorkerHost, worker_id: str, run_id: str) -> bool:
    """Whether the worker's runtime knows run ``run_id`` (it accepted, ran or ended it). A
    process killed between writing an input's transcript entry and its acceptance leaves
    an entry for a run that never comes: that input was lost, and is sent again."""
    cursor: str | None = None
    while True:
        page = await host.events(worker_id, after=cursor, limit=_PAGE)
        if any(getattr(event.event, "run_id", None) == run_id for event in page.events):
            return True
        if not page.events:
            return False
        cursor = page.next_cursor
