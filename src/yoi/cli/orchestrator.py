"""``yoi orchestrator``: what the running backend's orchestrator does, and a person's commands.

Each command makes one call through :class:`~yoi.client.backend.BackendClient` and prints:
``--json`` gives the API's JSON object, otherwise a few lines. The backend is found as for
``yoi worker`` (:mod:`yoi.cli.backend_address`).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from yoi.cli.backend_address import backend_option, check_workspace, connect, locate
from yoi.cli.orchestrator_demo import demo
from yoi.cli.orchestrator_rebuild import rebuild

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient

__all__ = ["explanation_lines", "orchestrator", "run_line", "status_lines"]

T = TypeVar("T")
Body = Mapping[str, Any]

_json = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON object.")
_by = click.option("--by", metavar="NAME", help="Who asks (default: the backend's ticket author).")


@click.group()
@backend_option
@click.pass_context
def orchestrator(ctx: click.Context, backend_url: str | None) -> None:
    """What the orchestrator of a running backend (`yoi serve`) is doing, and why."""
    ctx.obj = backend_url


@orchestrator.command()
@_json
@click.pass_obj
def status(backend_url: str | None, as_json: bool) -> None:
    """Every run with its phase, the queued tickets that wait and why, and problems."""
    body = _call(backend_url, lambda client: client.orchestrator())
    _print(body, as_json, status_lines)


@orchestrator.command()
@click.argument("ticket_id")
@_json
@click.pass_obj
def explain(backend_url: str | None, ticket_id: str, as_json: bool) -> None:
    """Why a ticket has not started: one sentence, then its reasons."""
    body = _call(backend_url, lambda client: client.explain(ticket_id))
    _print(body, as_json, explanation_lines)


@orchestrator.command()
@click.argument("ticket_id")
@_by
@_json
@click.pass_obj
def stop(backend_url: str | None, ticket_id: str, by: str | None, as_json: bool) -> None:
    """Stop a ticket's run: its workers stop, its worktree is kept."""
    body = _call(backend_url, lambda client: client.stop_run(ticket_id, by))
    _print(body, as_json, lambda run: [run_line(run)])


@orchestrator.command()
@click.argument("ticket_id")
@_by
@_json
@click.pass_obj
def retry(backend_url: str | None, ticket_id: str, by: str | None, as_json: bool) -> None:
    """Start a stopped or failed run again, as its next attempt."""
    body = _call(backend_url, lambda client: client.retry_run(ticket_id, by))
    _print(body, as_json, lambda run: [run_line(run)])


_gate = click.option(
    "--gate",
    type=click.Choice(["plan", "merge"]),
    required=True,
    help="The gate the run waits at (status shows it).",
)
_note = click.option("--note", metavar="TEXT", help="Said on the ticket (and to the coder).")


def _gate_command(decision: str, summary: str) -> click.Command:
    """``yoi orchestrator approve`` or ``reject``: a person's decision at a run's gate."""

    @orchestrator.command(name=decision, help=summary)
    @click.argument("ticket_id")
    @_gate
    @_note
    @_by
    @_json
    @click.pass_obj
    def decide(
        backend_url: str | None,
        ticket_id: str,
        gate: str,
        note: str | None,
        by: str | None,
        as_json: bool,
    ) -> None:
        body = _call(
            backend_url,
            lambda client: client.decide_gate(ticket_id, gate, decision, note=note, by=by),
        )
        _print(body, as_json, lambda run: [run_line(run)])

    return decide


_gate_command("approve", "Approve the run waiting at its plan or merge gate: it goes on.")
_gate_command(
    "reject", "Reject the run waiting at its gate: it stops and the ticket returns to planning."
)


orchestrator.add_command(demo)
orchestrator.add_command(rebuild)


# -- printing -------------------------------------------------------------------------------


def status_lines(status: Body) -> list[str]:
    """One line per run, then the waiting tickets with their sentence, then problems."""
    lines = [] if status["enabled"] else ["the orchestrator is off"]
    for run in status["runs"]:
        lines.append(run_line(run))
        if gate := run.get("gate"):
            name, ticket = gate["gate"], run["ticket_id"]
            command = f"yoi orchestrator approve|reject {ticket} --gate {name}"
            lines.append(f"  waits at the {name} gate: {command}")
    lines += [f"{wait['ticket_id']}  waiting  {wait['sentence']}" for wait in status["waiting"]]
    lines += [f"problem {problem['code']}: {problem['message']}" for problem in status["problems"]]
    return lines or ["no runs, and no queued ticket waits"]


def run_line(run: Body) -> str:
    line = f"{run['ticket_id']}  {run['phase']}  round {run['review_round']}  {run['title']}"
    if reason := run.get("reason"):
        line = f"{line}  [{reason}]"
    total = (run.get("usage") or {}).get("total")
    if not total:
        return line
    tokens = total["input_tokens"] + total["output_tokens"]
    if not tokens:
        return line
    cost = "cost unknown" if total["cost_usd"] is None else f"${total['cost_usd']:.4f}"
    return f"{line}  ({tokens:,} tokens, {cost})"


def explanation_lines(explanation: Body) -> list[str]:
    return [explanation["sentence"], *(_reason(reason) for reason in explanation["reasons"])]


def _reason(reason: Body) -> str:
    about = "" if reason["ticket_id"] is None else f" {reason['ticket_id']}"
    return f"  {reason['code']}{about}: {reason['detail']}"


def _print(body: Body, as_json: bool, lines: Callable[[Body], Sequence[str]]) -> None:
    if as_json:
        click.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    for line in lines(body):
        click.echo(line)


def _call(backend_url: str | None, action: Callable[[BackendClient], Awaitable[T]]) -> T:
    """Run ``action`` with a client of the backend, in a fresh event loop."""
    address = locate(backend_url, Path.cwd(), os.environ)

    async def session() -> T:
        async with connect(address) as client:
            note = await check_workspace(client, address)
            if note is not None:
                click.echo(f"yoi: {note}", err=True)
            return await action(client)

    return asyncio.run(session())
