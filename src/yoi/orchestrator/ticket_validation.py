"""A ticket's own validation commands, read from its ``## Validation`` section.

Only a bullet that is one command in backticks and nothing else is a command
(``- `cargo fmt --check` ``); prose bullets ("run the focused tests"), and bullets that
offer a choice ("`a` or `b`"), are for people and the reviewer, never guessed at. The
orchestrator runs these after the configured ones, and only when ``[orchestrator]
ticket_validation = true``.
"""

from __future__ import annotations

import re

__all__ = ["ticket_commands"]

_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_COMMAND = re.compile(r"^[-*]\s+`([^`\n]+)`\s*$")
_MAX_COMMANDS = 16


def ticket_commands(body: str) -> tuple[str, ...]:
    """The commands of the first ``Validation`` section of a ticket's body, in order."""
    commands: list[str] = []
    inside = False
    for line in body.split("\n"):
        heading = _HEADING.match(line)
        if heading is not None or line.rstrip() == "Validation:":
            if inside:
                break
            inside = line.rstrip() == "Validation:" or (
                heading is not None and heading.group(1).strip().lower() == "validation"
            )
            continue
        if not inside:
            continue
        found = _COMMAND.match(line.strip())
        if found is not None and found.group(1).strip():
            commands.append(found.group(1).strip())
    return tuple(commands[:_MAX_COMMANDS])
