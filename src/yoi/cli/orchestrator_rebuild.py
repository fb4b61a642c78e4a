"""``yoi orchestrator rebuild``: the orchestrator's state made again from the tickets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from yoi.orchestrator.rebuild import rebuild_workspace
from yoi.tickets import TicketStore
from yoi.workspace import Workspace

__all__ = ["rebuild"]


@click.command()
@click.option(
    "--workspace",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The workspace (default: the one this folder is in).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was rebuilt as JSON.")
def rebuild(workspace: Path | None, as_json: bool) -> None:
    """Make .yoi/state/orchestrator.db again from the tickets when it is lost.

    Every ticket the orchestrator accepted gets its run back (in progress: implementing;
    done: done), with the steps its records prove marked done, so nothing is repeated.
    Refused while `yoi serve` runs, and while the state still holds runs.
    """
    found = Workspace.find(workspace or Path.cwd())
    tickets = TicketStore.for_workspace(found.root)
    try:
        rebuilt = rebuild_workspace(found.root, tickets)
    finally:
        tickets.close()
    if as_json:
        click.echo(json.dumps(rebuilt.to_dict(), indent=2))
        return
    for ticket_id, phase in rebuilt.runs:
        click.echo(f"{ticket_id}  {phase}")
    for ticket_id, reason in rebuilt.skipped:
        click.echo(f"{ticket_id}  skipped: {reason}")
    click.echo(f"{len(rebuilt.runs)} run(s) rebuilt")
