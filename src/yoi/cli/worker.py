"""``yoi worker``: the workers of a running backend, from the command line.

Each command parses, makes one call through :class:`~yoi.client.backend.BackendClient`,
and prints: ``--json`` gives the API's JSON object, otherwise a compact
table or lines. A worker is named by its id and ``--runtime`` (the backend's
embedded runtime by default).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from yoi.cli.backend_address import check_workspace, connect, locate
from yoi.cli.backend_chat import BackendConversation
from yoi.cli.render import ReplyRenderer
from yoi.runtime import (
    AssistantIntent,
    CapabilityRequest,
    Intent,
    OnBusy,
    RoleIntent,
    TaskIntent,
    TranscriptEntry,
    WorkerDetail,
    WorkerStatus,
)
from yoi.runtime.events import (
    EventBody,
    InputAccepted,
    RunFinished,
    Snapshot,
    TextDeltaEvent,
    WorkerStoppedEvent,
)

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient, WorkerListing

__all__ = ["DEFAULT_RUNTIME", "WatchRenderer", "worker"]

DEFAULT_RUNTIME = "backend-internal"
"""The backend's embedded runtime (``yoi.backend.EMBEDDED_RUNTIME_ID``)."""
_CLIP = 80

T = TypeVar("T")


_BACKEND_HELP = (
    "The backend, as http://HOST:PORT or HOST:PORT (default: the `yoi serve` running for "
    "this workspace, else [backend] listen in .yoi/config.toml, else 127.0.0.1:8787). "
    "Its token comes from YOI_BACKEND_TOKEN."
)


@click.group()
@click.option(
    "--backend",
    "backend_url",
    metavar="URL",
    envvar="YOI_BACKEND_URL",
    show_envvar=True,
    help=_BACKEND_HELP,
)
@click.pass_context
def worker(ctx: click.Context, backend_url: str | None) -> None:
    """Create, drive and watch the workers of a running backend (`yoi serve`)."""
    ctx.obj = backend_url


def _name_backend(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.obj = value  # after the subcommand, as before it


def _command(name: str | None = None) -> Callable[[Callable[..., T]], click.Command]:
    """A subcommand of ``yoi worker`` that also takes ``--backend`` after its name."""

    def make(function: Callable[..., T]) -> click.Command:
        backend = click.option(
            "--backend",
            metavar="URL",
            expose_value=False,
            callback=_name_backend,
            help=_BACKEND_HELP,
        )
        return worker.command(name)(backend(function))

    return make


def _runtime_option(**extra: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    return click.option("--runtime", "runtime_id", metavar="RUNTIME_ID", **extra)


_holder = _runtime_option(
    default=DEFAULT_RUNTIME, show_default=True, help="The runtime that holds the worker."
)
_json = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON object.")


@_command("list")
@_runtime_option(help="Only this runtime's workers (default: every runtime).")
@click.option("--status", type=click.Choice([str(status) for status in WorkerStatus]))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many workers.")
@click.option("--after", metavar="CURSOR", help="Where the previous page ended.")
@_json
@click.pass_obj
def list_workers(
    backend_url: str | None,
    runtime_id: str | None,
    status: str | None,
    limit: int | None,
    after: str | None,
    as_json: bool,
) -> None:
    """List workers across the backend's runtimes."""
    wanted = None if status is None else WorkerStatus(status)
    listing = _call(backend_url, lambda client: client.workers(runtime_id, wanted, limit, after))
    if as_json:
        _print_json(listing.to_dict())
        return
    _print_lines(worker_table(listing.workers))
    for line in listing_notes(listing):
        _say(line)


@_command()
@click.argument("worker_id")
@_holder
@_json
@click.pass_obj
def show(backend_url: str | None, worker_id: str, runtime_id: str, as_json: bool) -> None:
    """Show one worker."""
    detail = _call(backend_url, lambda client: client.get_worker(runtime_id, worker_id))
    if as_json:
        _print_json({"worker": detail.to_dict()})
    else:
        _print_lines(describe_worker(detail))


@_command()
@_holder
@click.option("--id", "worker_id", metavar="WORKER_ID", help="The new worker's id.")
@click.option("--name", "display_name", help="A label for people.")
@click.option(
    "--profile", help="A workspace profile, or builtin:NAME (default: the workspace's default)."
)
@click.option("--task", metavar="OBJECTIVE", help="A task worker with this objective.")
@click.option("--role", help="A worker in this role.")
@click.option("--purpose", help="What an assistant (or a role) is for.")
@click.option("--capability", "capabilities", multiple=True, help="Ask for a capability.")
@click.option("--input", "initial_input", metavar="TEXT", help="A first input to start on.")
@_json
@click.pass_obj
def create(
    backend_url: str | None,
    runtime_id: str,
    worker_id: str | None,
    display_name: str | None,
    profile: str | None,
    task: str | None,
    role: str | None,
    purpose: str | None,
    capabilities: tuple[str, ...],
    initial_input: str | None,
    as_json: bool,
) -> None:
    """Create a worker and print its id."""
    intent = intent_of(task, role, purpose)
    detail = _call(
        backend_url,
        lambda client: client.create_worker(
            runtime_id,
            worker_id=worker_id,
            display_name=display_name,
            profile=profile,
            intent=intent,
            capabilities=[CapabilityRequest(name) for name in capabilities],
            initial_input=initial_input,
        ),
    )
    if as_json:
        _print_json({"worker": detail.to_dict()})
    else:
        click.echo(detail.worker_id)


@_command()
@click.argument("worker_id")
@click.argument("content")
@_holder
@click.option(
    "--on-busy",
    type=click.Choice([str(choice) for choice in OnBusy]),
    default=str(OnBusy.REJECT),
    show_default=True,
    help="What to do when the worker is running.",
)
@click.option("--wait", is_flag=True, help="Stream the reply until its run finishes.")
@_json
@click.pass_context
def send(
    ctx: click.Context,
    worker_id: str,
    content: str,
    runtime_id: str,
    on_busy: str,
    wait: bool,
    as_json: bool,
) -> None:
    """Send CONTENT (- reads standard input) to a worker and print the run's id.

    With --wait, stream the reply instead, until its run finishes; the exit
    status is 1 when the run did not complete.
    """
    if wait and as_json:
        raise click.UsageError("--wait streams the reply; it does not go with --json")
    text = sys.stdin.read() if content == "-" else content
    busy = OnBusy(on_busy)
    if wait:
        ctx.exit(_send_and_wait(ctx.obj, runtime_id, worker_id, text, busy))
    ack = _call(ctx.obj, lambda client: client.send_input(runtime_id, worker_id, text, busy))
    if as_json:
        _print_json({"ack": ack.to_dict()})
        return
    click.echo(ack.run_id)
    if ack.queued:
        _say("queued: the run starts when the ones before it finish")


def _send_and_wait(
    backend_url: str | None, runtime_id: str, worker_id: str, content: str, on_busy: OnBusy
) -> int:
    renderer = _renderer()

    async def exchange(client: BackendClient) -> int:
        conversation = BackendConversation(client, runtime_id, worker_id, renderer)
        reply = await conversation.send(content, on_busy)
        if reply.problem is None:
            return 0
        _say(reply.problem)
        return 1

    try:
        return _call(backend_url, exchange)
    except KeyboardInterrupt:
        renderer.end_line()
        _say(f"stopped waiting; the run goes on (yoi worker cancel {worker_id} cancels it)")
        return 130


@_command()
@click.argument("worker_id")
@_holder
@click.option("--start", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many entries.")
@_json
@click.pass_obj
def transcript(
    backend_url: str | None,
    worker_id: str,
    runtime_id: str,
    start: int,
    limit: int | None,
    as_json: bool,
) -> None:
    """Print a worker's transcript, a page at a time."""
    page = _call(backend_url, lambda client: client.transcript(runtime_id, worker_id, start, limit))
    if as_json:
        _print_json({"transcript": page.to_dict()})
        return
    for entry in page.items:
        _print_lines(transcript_lines(entry))
    if page.next_start is not None:
        _say(f"more entries: --start {page.next_start}")


@_command()
@click.argument("worker_id")
@_holder
@click.option("--cursor", metavar="CURSOR", help="Resume after this cursor.")
@click.pass_obj
def watch(backend_url: str | None, worker_id: str, runtime_id: str, cursor: str | None) -> None:
    """Follow a worker's events: streamed text, tool calls and errors, until Ctrl-C.

    On leaving it prints the cursor to resume from with --cursor.
    """
    view = WatchRenderer(_renderer(), resuming=cursor is not None)
    last: str | None = None

    async def follow(client: BackendClient) -> None:
        nonlocal last
        async with await client.subscribe(runtime_id, worker_id, cursor) as events:
            async for event in events:
                view.show(event.event)
                last = events.cursor

    try:
        _call(backend_url, follow)
    except KeyboardInterrupt:
        pass
    finally:
        view.end()
        if last is not None:
            _say(f"resume with --cursor {last}")


@_command()
@click.argument("worker_id")
@_holder
@click.option("--reason", help="Why, for the record.")
@_json
@click.pass_obj
def stop(
    backend_url: str | None, worker_id: str, runtime_id: str, reason: str | None, as_json: bool
) -> None:
    """Stop a worker for good: its run is cancelled and it takes no more input."""
    ack = _call(backend_url, lambda client: client.stop_worker(runtime_id, worker_id, reason))
    if as_json:
        _print_json({"ack": ack.to_dict()})
    else:
        click.echo(f"stopped {worker_id}" if ack.stopped else f"{worker_id} was already stopped")


@_command()
@click.argument("worker_id")
@_holder
@_json
@click.pass_obj
def cancel(backend_url: str | None, worker_id: str, runtime_id: str, as_json: bool) -> None:
    """Cancel a worker's run in flight; the worker stays, ready for input."""
    ack = _call(backend_url, lambda client: client.cancel_worker(runtime_id, worker_id))
    if as_json:
        _print_json({"ack": ack.to_dict()})
    else:
        click.echo(
            f"cancelled the run of {worker_id}" if ack.cancelled else f"{worker_id} was not running"
        )


# -- calling the backend --------------------------------------------------------------------


def _call(backend_url: str | None, action: Callable[[BackendClient], Awaitable[T]]) -> T:
    """Run ``action`` with a client of the backend, in a fresh event loop."""
    address = locate(backend_url, Path.cwd(), os.environ)

    async def session() -> T:
        async with connect(address) as client:
            note = await check_workspace(client, address)
            if note is not None:
                _say(note)
            return await action(client)

    return asyncio.run(session())


def intent_of(task: str | None, role: str | None, purpose: str | None) -> Intent | None:
    if task is not None and role is not None:
        raise click.UsageError("--task and --role do not go together")
    if task is not None:
        if purpose is not None:
            raise click.UsageError("--purpose goes with an assistant or a --role, not a --task")
        return TaskIntent(task)
    if role is not None:
        return RoleIntent(role, purpose)
    return None if purpose is None else AssistantIntent(purpose=purpose)


# -- what people read -----------------------------------------------------------------------


def worker_table(workers: Iterable[WorkerDetail]) -> list[str]:
    """One aligned row per worker, under a header; nothing at all for no workers."""
    rows = [
        (item.runtime_id, item.worker_id, str(item.status), item.profile, item.display_name)
        for item in workers
    ]
    if not rows:
        return []
    header = ("RUNTIME", "WORKER", "STATUS", "PROFILE", "NAME")
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(4)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[4]])
        for row in (header, *rows)
    ]


def listing_notes(listing: WorkerListing) -> list[str]:
    notes = [
        f"runtime {problem.runtime_id}: {problem.code}: {problem.message}"
        for problem in listing.diagnostics
    ]
    if not listing.workers:
        notes.append("no workers")
    if listing.next_after is not None:
        notes.append(f"more workers: --after {listing.next_after}")
    return notes


def describe_worker(detail: WorkerDetail) -> list[str]:
    fields = [
        ("worker", detail.worker_id),
        ("runtime", detail.runtime_id),
        ("name", detail.display_name),
        ("status", str(detail.status)),
        ("profile", detail.profile),
        ("model", detail.model),
        ("intent", _intent_text(detail.intent)),
        ("tools", ", ".join(detail.tools) or "none"),
        ("runs", str(detail.runs)),
        ("transcript", f"{detail.transcript_total} entries"),
        ("queued", f"{detail.queued_inputs} inputs"),
    ]
    if detail.run is not None:
        tools = ", ".join(detail.run.tools_in_flight)
        fields.append(("run", detail.run.run_id + (f" (tools: {tools})" if tools else "")))
    return [f"{name:<11}{value}" for name, value in fields]


def _intent_text(intent: Intent) -> str:
    match intent:
        case TaskIntent(objective=objective):
            return f"task: {objective}"
        case RoleIntent(role=role, purpose=purpose):
            return f"role: {role}" + (f" ({purpose})" if purpose else "")
        case AssistantIntent(purpose=purpose):
            return "assistant" + (f": {purpose}" if purpose else "")


def transcript_lines(entry: TranscriptEntry) -> list[str]:
    """``#N role: content``, a tool entry on one line, further lines indented; a reply
    its run cut short says how (``#N assistant (cancelled): ...``)."""
    tool = entry.tool
    if tool is None:
        cut = f" ({entry.cut})" if entry.cut else ""
        head, text = f"#{entry.sequence} {entry.role}{cut}: ", entry.content
    elif not tool.result:
        head, text = f"#{entry.sequence} tool call {tool.name}: ", _clip(entry.content)
    else:
        outcome = "failed" if tool.is_error else "result"
        head, text = f"#{entry.sequence} tool {outcome} {tool.name}: ", _clip(entry.content)
    first, *rest = text.split("\n")
    return [head + first, *(f"    {line}" if line else "" for line in rest)]


class WatchRenderer:
    """A worker's events as they arrive: reply text on ``out`` as it streams, and one line
    on ``err`` for the rest (where the worker stands, inputs, tool calls, errors, run ends)."""

    def __init__(self, renderer: ReplyRenderer, *, resuming: bool) -> None:
        self._renderer = renderer
        self._resuming = resuming

    def show(self, body: EventBody) -> None:
        match body:
            case Snapshot(worker=worker, run=run):
                self._snapshot(worker, run)
            case InputAccepted(content=content, queued=queued):
                self._renderer.note(f"[input] {_clip(content)}" + (" (queued)" if queued else ""))
            case RunFinished(result="completed"):
                self._renderer.end_line()
            case RunFinished(result=result, error=error):
                problem = "" if error is None else f": {error.get('code')}: {error.get('message')}"
                self._renderer.note(f"[run] {result}{problem}")
            case WorkerStoppedEvent(reason=reason):
                self._renderer.note("[stopped]" + (f" {reason}" if reason else ""))
            case _:
                self._renderer.render(body)

    def end(self) -> None:
        self._renderer.end_line()

    def _snapshot(self, worker: dict[str, object], run: dict[str, object] | None) -> None:
        name = worker.get("display_ref") or worker.get("worker_id")
        self._renderer.note(f"watching {name} ({worker.get('status')})")
        if run is None or self._resuming:
            return  # when resuming, the events after the cursor carry the run's text
        text, run_id = run.get("text"), run.get("run_id")
        if isinstance(text, str) and isinstance(run_id, str):
            self._renderer.render(TextDeltaEvent(run_id, text))  # the reply so far


def _renderer() -> ReplyRenderer:
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return ReplyRenderer(sys.stdout, sys.stderr, color=color)


def _print_json(body: dict[str, object]) -> None:
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


def _print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)


def _say(line: str) -> None:
    click.echo(f"yoi: {line}", err=True)


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _CLIP else flat[: _CLIP - 3] + "..."
