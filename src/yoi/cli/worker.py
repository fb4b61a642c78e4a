"""``yoi worker``: the workers of a running backend, from the command line.

Each command parses, makes one call through :class:`~yoi.client.backend.BackendClient`,
and prints: ``--json`` gives the API's JSON object, otherwise a compact
table or lines. A worker is named by its id and ``--runtime`` (the backend's
embedded runtime by default). What is printed lives in :mod:`yoi.cli.worker_output`;
which runtime a new worker lands on, in :mod:`yoi.cli.worker_create`.
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

from yoi.cli.backend_address import BACKEND_HELP, backend_option, check_workspace, connect, locate
from yoi.cli.backend_chat import BackendConversation
from yoi.cli.render import ReplyRenderer
from yoi.cli.worker_create import (
    DEFAULT_RUNTIME,
    Created,
    Order,
    grant_request,
    place_and_create,
    workdir_spec,
)
from yoi.cli.worker_output import (
    Answering,
    WatchRenderer,
    approval_lines,
    describe_worker,
    grant_text,
    listing_notes,
    transcript_lines,
    worker_table,
)
from yoi.runtime import (
    AssistantIntent,
    CapabilityRequest,
    Intent,
    OnBusy,
    RoleIntent,
    TaskIntent,
    WorkerStatus,
)

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient

__all__ = ["DEFAULT_RUNTIME", "worker"]

T = TypeVar("T")


@click.group()
@backend_option
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
            help=BACKEND_HELP,
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
@_runtime_option(
    help="Where to create it (default: for a coder, a reviewer or a --workdir, the backend's "
    "local runtime when it is available; else backend-internal)."
)
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
@click.option(
    "--workdir",
    metavar="new|WORKDIR_ID",
    help="Work in a new workdir of the runtime's repository, or in an existing one.",
)
@click.option("--base", metavar="REF", help="What a new workdir starts from (default HEAD).")
@click.option("--branch", metavar="NAME", help="A new branch for a new workdir (default detached).")
@click.option(
    "--grant",
    "grant_bits",
    metavar="BITS",
    help="Fewer capability bits than the profile grants, e.g. read,glob,grep.",
)
@click.option(
    "--grant-path",
    "grant_paths",
    multiple=True,
    metavar="PATH",
    help="Only this part of the workdir (repeatable).",
)
@_json
@click.pass_obj
def create(
    backend_url: str | None,
    runtime_id: str | None,
    worker_id: str | None,
    display_name: str | None,
    profile: str | None,
    task: str | None,
    role: str | None,
    purpose: str | None,
    capabilities: tuple[str, ...],
    initial_input: str | None,
    workdir: str | None,
    base: str | None,
    branch: str | None,
    grant_bits: str | None,
    grant_paths: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a worker and print its id; its runtime, workdir and grant follow on stderr.

    `--profile coder --workdir new` makes a workdir and a coder working in it.
    """
    order = Order(
        runtime_id=runtime_id,
        worker_id=worker_id,
        display_name=display_name,
        profile=profile,
        intent=intent_of(task, role, purpose),
        capabilities=tuple(CapabilityRequest(name) for name in capabilities),
        initial_input=initial_input,
        workdir=workdir_spec(workdir, base, branch),
        grant=grant_request(grant_bits, grant_paths),
    )
    created = _call(backend_url, lambda client: place_and_create(client, order))
    if as_json:
        _print_json({"worker": created.detail.to_dict()})
    else:
        click.echo(created.detail.worker_id)
    for line in created_notes(created):
        _say(line)


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
    answering = Answering(worker_id, runtime_id, backend_url)
    view = WatchRenderer(_renderer(), answering, resuming=cursor is not None)
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


@_command()
@click.argument("worker_id")
@_holder
@_json
@click.pass_obj
def approvals(backend_url: str | None, worker_id: str, runtime_id: str, as_json: bool) -> None:
    """List a worker's tool calls that wait for your answer, with the commands that answer them."""
    detail = _call(backend_url, lambda client: client.get_worker(runtime_id, worker_id))
    if as_json:
        _print_json({"approvals": [approval.to_dict() for approval in detail.approvals]})
        return
    answering = Answering(worker_id, runtime_id, backend_url)
    for approval in detail.approvals:
        _print_lines(approval_lines(approval.requested(), answering))
    if not detail.approvals:
        _say(f"no approvals waiting for {worker_id}")


@_command()
@click.argument("worker_id")
@click.argument("approval_id")
@_holder
@_json
@click.pass_obj
def allow(
    backend_url: str | None, worker_id: str, approval_id: str, runtime_id: str, as_json: bool
) -> None:
    """Let a tool call that an `ask` rule holds run."""
    _answer(backend_url, Answering(worker_id, runtime_id), approval_id, "allow", as_json)


@_command()
@click.argument("worker_id")
@click.argument("approval_id")
@_holder
@_json
@click.pass_obj
def deny(
    backend_url: str | None, worker_id: str, approval_id: str, runtime_id: str, as_json: bool
) -> None:
    """Refuse a tool call that an `ask` rule holds: the worker is told it was denied."""
    _answer(backend_url, Answering(worker_id, runtime_id), approval_id, "deny", as_json)


def _answer(
    backend_url: str | None, who: Answering, approval_id: str, decision: str, as_json: bool
) -> None:
    ack = _call(
        backend_url,
        lambda client: client.answer_approval(who.runtime_id, who.worker_id, approval_id, decision),
    )
    if as_json:
        _print_json({"ack": ack.to_dict()})
    else:
        click.echo(f"{'allowed' if ack.decision == 'allow' else 'denied'} {ack.approval_id}")


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


def created_notes(created: Created) -> list[str]:
    """Where a new worker is, when that is not the default, and what it may do there."""
    detail = created.detail
    notes = list(created.notes)
    if detail.runtime_id != DEFAULT_RUNTIME:
        notes.append(f"on runtime {detail.runtime_id}: name it with --runtime {detail.runtime_id}")
    if detail.workdir is not None:
        grant = "" if detail.grant is None else f"; grant: {grant_text(detail.grant)}"
        notes.append(f"workdir {detail.workdir}{grant}")
    return notes


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


# -- printing -------------------------------------------------------------------------------


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
