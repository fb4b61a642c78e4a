"""The ``[orchestrator]`` table of ``.yoi/config.toml``: how queued tickets are taken to ``done``.

::

    [orchestrator]
    enabled = true                  # the default; false: queued tickets wait for a person
    max_parallel = 2                # tickets in progress at once
    target_branch = "orchestration" # the integration branch, made from HEAD when missing
    validation = ["python -m pytest -q"]   # run on the merged tree, in order
    validation_timeout = 600        # seconds, each command
    ticket_validation = false       # also run a ticket's own `Validation:` commands
    max_review_rounds = 3           # request_changes rounds before the run stops
    max_fix_rounds = 3              # failed validations or merge conflicts sent back
    pass_interval = 30              # seconds between passes when nothing happens

Every key is optional and checked strictly: a mistake names its key.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yoi.errors import InvalidRequest

__all__ = ["MAX_VALIDATION_COMMANDS", "OrchestratorSettings"]

MAX_VALIDATION_COMMANDS = 32
_MAX_COMMAND = 4096
# What git itself allows in a branch name, and a little less: no "..", "@{", leading "-" or
# "/", trailing ".lock" or "/", control characters, spaces or any of ~^:?*[\ .
_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)(?!.*//)[A-Za-z0-9._/-]{1,100}(?<!\.lock)(?<![/.])")
_KEYS = {
    "enabled",
    "max_parallel",
    "target_branch",
    "validation",
    "validation_timeout",
    "ticket_validation",
    "max_review_rounds",
    "max_fix_rounds",
    "pass_interval",
}


@dataclass(frozen=True, slots=True)
class OrchestratorSettings:
    enabled: bool = True
    max_parallel: int = 2
    target_branch: str = "orchestration"
    validation: tuple[str, ...] = ()
    validation_timeout: float = 600.0
    ticket_validation: bool = False
    max_review_rounds: int = 3
    max_fix_rounds: int = 3
    pass_interval: float = 30.0

    @classmethod
    def from_toml(cls, path: Path) -> OrchestratorSettings:
        """The table in ``path``; a missing file or table gives the defaults."""
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise InvalidRequest(
                f"cannot read {path.name}: {error}", details={"file": path.name}
            ) from None
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> OrchestratorSettings:
        table = document.get("orchestrator", {})
        if not isinstance(table, Mapping):
            raise _error("orchestrator", "must be a table")
        unknown = sorted(str(key) for key in table if key not in _KEYS)
        if unknown:
            raise _error(f"orchestrator.{unknown[0]}", f"is not a setting (known: {sorted(_KEYS)})")
        default = cls()
        return cls(
            enabled=_flag(table, "enabled", default.enabled),
            max_parallel=_count(table, "max_parallel", default.max_parallel, 64),
            target_branch=_branch(table.get("target_branch", default.target_branch)),
            validation=_commands(table.get("validation", [])),
            validation_timeout=_seconds(table, "validation_timeout", default.validation_timeout),
            ticket_validation=_flag(table, "ticket_validation", default.ticket_validation),
            max_review_rounds=_count(table, "max_review_rounds", default.max_review_rounds, 20),
            max_fix_rounds=_count(table, "max_fix_rounds", default.max_fix_rounds, 20),
            pass_interval=_seconds(table, "pass_interval", default.pass_interval),
        )

    def to_dict(self) -> dict[str, object]:
        """The settings as a table would spell them (``from_document`` reads it back)."""
        return {
            "enabled": self.enabled,
            "max_parallel": self.max_parallel,
            "target_branch": self.target_branch,
            "validation": list(self.validation),
            "validation_timeout": self.validation_timeout,
            "ticket_validation": self.ticket_validation,
            "max_review_rounds": self.max_review_rounds,
            "max_fix_rounds": self.max_fix_rounds,
            "pass_interval": self.pass_interval,
        }


def _error(key: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{key} {problem}", details={"field": key})


def _flag(table: Mapping[str, object], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _error(f"orchestrator.{key}", "must be true or false")
    return value


def _count(table: Mapping[str, object], key: str, default: int, most: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise _error(f"orchestrator.{key}", f"must be a whole number from 1 to {most}")
    return value


def _seconds(table: Mapping[str, object], key: str, default: float) -> float:
    value = table.get(key, default)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= 86_400
    ):
        raise _error(f"orchestrator.{key}", "must be a number of seconds above 0, at most a day")
    return float(value)


def _branch(value: object) -> str:
    if not isinstance(value, str) or _BRANCH.fullmatch(value) is None:
        raise _error(
            "orchestrator.target_branch",
            "must be a plain branch name (letters, digits, '.', '_', '-', '/')",
        )
    return value


def _commands(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_VALIDATION_COMMANDS:
        raise _error(
            "orchestrator.validation",
            f"must be a list of at most {MAX_VALIDATION_COMMANDS} commands",
        )
    for command in value:
        if (
            not isinstance(command, str)
            or not command.strip()
            or len(command) > _MAX_COMMAND
            or "\0" in command
        ):
            raise _error(
                "orchestrator.validation",
                f"must hold non-empty commands of at most {_MAX_COMMAND} characters",
            )
    return tuple(value)
