"""A conversation with one worker: send an input, stream the reply until its run finishes."""

from __future__ import annotations

from dataclasses import dataclass

from yoi.cli.render import ReplyRenderer
from yoi.errors import RuntimeUnavailable
from yoi.runtime import CreateWorkerRequest, Input, Runtime, Subscription
from yoi.runtime.events import RunFinished, TextDeltaEvent

__all__ = ["Conversation", "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """How one run ended, with the text it streamed."""

    run_id: str
    result: str
    """``completed``, ``cancelled``, ``failed`` or ``limit_reached``."""
    text: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.result == "completed"

    @property
    def problem(self) -> str | None:
        """A one-line account of what went wrong, or None when the run completed."""
        if self.ok:
            return None
        if self.error_code is None:
            return f"the run ended {self.result}"
        return f"the run ended {self.result}: {self.error_code}: {self.error_message}"


class Conversation:
    """Talks to one worker of a runtime and renders its replies as they stream."""

    def __init__(self, runtime: Runtime, worker_id: str, renderer: ReplyRenderer) -> None:
        self._runtime = runtime
        self._renderer = renderer
        self.worker_id = worker_id

    @classmethod
    async def start(
        cls, runtime: Runtime, renderer: ReplyRenderer, *, profile: str | None = None
    ) -> Conversation:
        """Create the worker to talk to, on a builtin ``profile`` or the runtime default."""
        reference = "runtime_default" if profile is None else f"builtin:{profile}"
        request = CreateWorkerRequest(display_name="chat", profile=reference)
        worker = await runtime.create_worker(request)
        return cls(runtime, worker.worker_id, renderer)

    async def send(self, content: str) -> Reply:
        """Send ``content`` and render the reply until its run finishes."""
        async with await self._runtime.subscribe(self.worker_id) as events:
            ack = await self._runtime.send_input(self.worker_id, Input(content))
            try:
                return await self._follow(events, ack.run_id)
            finally:
                self._renderer.end_line()

    async def cancel(self) -> bool:
        """Cancel the reply in flight; False when nothing was running."""
        self._renderer.end_line()
        ack = await self._runtime.cancel_worker(self.worker_id)
        return ack.cancelled

    async def _follow(self, events: Subscription, run_id: str) -> Reply:
        # One run at a time per worker and nothing queued: every event after the
        # snapshot belongs to this run until its run_finished.
        text: list[str] = []
        async for event in events:
            body = event.event
            self._renderer.render(body)
            match body:
                case TextDeltaEvent(text=delta):
                    text.append(delta)
                case RunFinished(run_id=finished, result=result, error=error) if finished == run_id:
                    return _reply(run_id, result, "".join(text), error)
                case _:
                    pass
        raise RuntimeUnavailable("the runtime closed before the reply finished")


def _reply(run_id: str, result: str, text: str, error: dict[str, object] | None) -> Reply:
    if error is None:
        return Reply(run_id, result, text)
    return Reply(run_id, result, text, str(error.get("code")), str(error.get("message")))
