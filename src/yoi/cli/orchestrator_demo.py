"""``yoi orchestrator demo``: the orchestrator's whole loop on a small project, in about a
minute. The work is :func:`yoi.orchestrator.demo.run_demo`; this only picks the folder and
the model, and prints. The runtime and the orchestrator are imported when it runs, so the
other ``yoi orchestrator`` commands do not pay for them."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from yoi.engine.model import Model
    from yoi.orchestrator.demo import DemoOutcome
    from yoi.providers.selection import ModelChoice

__all__ = ["demo"]

_SANDBOXES = ("bwrap", "none")


@click.command()
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Make the demo's repository in DIR (new or empty) and keep it, instead of a "
    "temporary folder removed at the end.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=1.0), default=300.0, show_default=True, help="Seconds."
)
@click.option(
    "--model",
    metavar="PROVIDER:MODEL",
    help="The model for the intake, coder and reviewer (default: one whose key is in the "
    "environment, else demo:playbook, which applies only what the tickets spell out).",
)
@click.option(
    "--sandbox",
    type=click.Choice(_SANDBOXES),
    default="bwrap",
    show_default=True,
    help="How workers' commands and the validation are confined.",
)
def demo(keep: Path | None, timeout: float, model: str | None, sandbox: str) -> None:
    """Queue three tickets on a small program and watch them reach done."""
    from yoi.orchestrator.demo import demo_choice
    from yoi.providers.selection import build_model

    choice = demo_choice(model, os.environ)
    click.echo(_announce(choice))
    built = build_model(choice, os.environ)
    if keep is not None:
        outcome = _run(keep.absolute(), built, timeout, sandbox)
    else:
        with tempfile.TemporaryDirectory(prefix="yoi-demo-") as folder:
            outcome = _run(Path(folder) / "repo", built, timeout, sandbox)
    click.echo("the integration branch, orchestration:")
    click.echo(outcome.log.rstrip() or "  (none)")
    if outcome.problem is not None:
        click.echo(f"yoi: the demo did not finish: {outcome.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"all {len(outcome.tickets)} tickets are done")


def _run(root: Path, model: Model, timeout: float, sandbox: str) -> DemoOutcome:
    from yoi.orchestrator.demo import run_demo
    from yoi.providers.selection import aclose_model
    from yoi.tools.sandbox import SandboxMode

    async def session() -> DemoOutcome:
        try:
            mode = SandboxMode(sandbox)
            return await run_demo(root, model, say=click.echo, seconds=timeout, sandbox=mode)
        finally:
            await aclose_model(model)

    return asyncio.run(session())


def _announce(choice: ModelChoice) -> str:
    from yoi.providers.demo import DEMO_NOTICE

    if choice.demo:
        return f"model: {choice.reference}. {DEMO_NOTICE}"
    return f"model: {choice.reference} plays the intake, the coder and the reviewer"
