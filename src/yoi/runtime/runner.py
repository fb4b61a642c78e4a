"""Carrying out a worker's runs: engine events become log events and transcript entries."""

from __future__ import annotations

import asyncio
import logging

from yoi.engine.events import (
    AssistantReply,
    EngineEvent,
    Retrying,
    RunEnded,
    TextDelta,
    TextDone,
    ThinkingDelta,
    ThinkingDone,
    ToolCallFinished,
    ToolCallStarted,
    UsageReport,
)
from yoi.errors import StoreError, YoiError
from yoi.runtime.events import (
    ErrorEvent,
    RunFinished,
    RunStarted,
    TextDeltaEvent,
    TextDoneEvent,
    ThinkingDeltaEvent,
    ThinkingDoneEvent,
    ToolCallFinishedEvent,
    ToolCallStartedEvent,
    UsageEvent,
)
from yoi.runtime.transcript import Role, ToolEntry
from yoi.runtime.worker import PendingInput, Worker

__all__ = ["drive"]

log = logging.getLogger(__name__)

# A model that never suspends (a large buffered response) would starve subscribers
# until their buffers overflow; yielding now and then keeps them fed. Waiting for
# the store at the same points bounds how far published events run ahead of
# durable ones, and keeps a slow disk from filling memory.
_YIELD_EVERY = 64


async def drive(worker: Worker, pending: PendingInput) -> None:
    """Run ``pending``, then each queued input in turn, until the queue is empty."""
    current: PendingInput | None = pending
    while current is not None:
        await _run(worker, current)
        current = worker.next_input()
    try:
        await worker.store.save_worker(worker.record)
    except StoreError as error:  # the records wait in the store for its next write
        log.warning("worker %s: %s", worker.worker_id, error.message)


async def _run(worker: Worker, pending: PendingInput) -> None:
    run_id = pending.run_id
    try:
        if pending.entry is None:
            pending.entry, _ = worker.record_entry(Role.USER, pending.content, run_id)
        # Nothing is asked of the model until the run is on disk: a store that
        # cannot write fails the run here, before it costs anything.
        await worker.emit(RunStarted(run_id, worker.engine.model_name))
        count = 0
        async for event in worker.engine.run(worker.system_prompt, worker.history.messages):
            if not worker.owns(run_id):
                return
            _apply(worker, run_id, event)
            count += 1
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if worker.last_durable is not None:
                    await worker.last_durable
    except asyncio.CancelledError:
        _keep_partial_reply(worker, run_id)
        worker.finish_run(run_id, RunFinished(run_id, "cancelled"))
        raise
    except StoreError as error:
        log.warning("run %s of worker %s failed: %s", run_id, worker.worker_id, error.message)
        worker.finish_run(run_id, RunFinished(run_id, "failed", _error_body(error)))
    except Exception as error:  # a bug must end the run, not the worker
        log.exception("run %s of worker %s failed unexpectedly", run_id, worker.worker_id)
        failure: dict[str, object] = {
            "code": "internal",
            "message": f"internal error ({type(error).__name__})",
        }
        worker.finish_run(run_id, RunFinished(run_id, "failed", failure))


def _keep_partial_reply(worker: Worker, run_id: str) -> None:
    """A cancelled run's reply in progress joins the transcript as far as it got, marked.

    Text that is only whitespace is left out: it says nothing, and some providers
    refuse it in an assistant message of the next run's history.
    """
    live = worker.live
    if live is None or not worker.owns(run_id):
        return
    text = "".join(live.text)
    if not text.strip():
        return
    entry, _ = worker.record_entry(Role.ASSISTANT, text, run_id, cut="cancelled")
    live.text.clear()
    worker.emit(TextDoneEvent(run_id, text, entry.sequence, cut="cancelled"))


def _apply(worker: Worker, run_id: str, event: EngineEvent) -> None:
    live = worker.live
    assert live is not None
    match event:
        case TextDelta(text=text):
            live.text.append(text)
            worker.emit(TextDeltaEvent(run_id, text))
        case TextDone(text=text):
            # The reply joins the transcript now, so text_done can name its entry.
            entry, _ = worker.record_entry(Role.ASSISTANT, text, run_id)
            live.text.clear()
            live.replied = True
            worker.emit(TextDoneEvent(run_id, text, entry.sequence))
        case ThinkingDelta(text=text):
            live.thinking.append(text)
            worker.emit(ThinkingDeltaEvent(run_id, text))
        case ThinkingDone(text=text):
            worker.emit(ThinkingDoneEvent(run_id, text))
        case AssistantReply(message=message):
            live.text.clear()
            live.thinking.clear()
            if message.text and not live.replied:
                worker.record_entry(Role.ASSISTANT, message.text, run_id)
            live.replied = False
        case ToolCallStarted(call=call):
            live.tools[call.id] = call.name
            tool = ToolEntry(call.id, call.name, result=False)
            entry, _ = worker.record_entry(Role.TOOL, call.arguments, run_id, tool)
            worker.emit(
                ToolCallStartedEvent(run_id, call.id, call.name, call.arguments, entry.sequence)
            )
        case ToolCallFinished(call=call, result=result, truncated=truncated):
            live.tools.pop(call.id, None)
            tool = ToolEntry(call.id, call.name, True, result.is_error, result.summary, truncated)
            entry, _ = worker.record_entry(Role.TOOL, result.text, run_id, tool)
            worker.emit(
                ToolCallFinishedEvent(
                    run_id,
                    call.id,
                    call.name,
                    result.summary,
                    result.is_error,
                    truncated,
                    entry.sequence,
                )
            )
        case UsageReport(input_tokens=used_in, output_tokens=used_out):
            worker.record.usage["input_tokens"] += used_in
            worker.record.usage["output_tokens"] += used_out
            worker.emit(UsageEvent(run_id, used_in, used_out))
        case Retrying(attempt=attempt, delay=delay, code=code, message=message):
            text = f"{message} (attempt {attempt}; retrying in {delay:.1f}s)"
            worker.emit(ErrorEvent(code, text, run_id, retry_in=delay))
        case RunEnded(result=result, error=error):
            worker.finish_run(run_id, RunFinished(run_id, str(result), _error_body(error)))


def _error_body(error: YoiError | None) -> dict[str, object] | None:
    return None if error is None else {"code": error.code, "message": error.message}
