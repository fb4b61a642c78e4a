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
    max_attempts = 3                # tries of a stalled or failed step before the run is suppressed
    retry_backoff = 10              # seconds before the first retry, doubling each time...
    retry_backoff_max = 300         # ...up to this
    plan_gate = false               # true: a person approves each plan before a coder starts
    merge_gate = false              # true: a person approves each merge, from its dossier

    [orchestrator.timeouts]         # a phase's stall clock: seconds since the worker's last event
    intake = 600
    implement = 900                 # a tool call running (a long test suite) does not count
    review = 600
    validation = 1200               # validation: seconds of wall time, all commands together

Every key is optional and checked strictly: a mistake names its key.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from yoi.errors import InvalidRequest
from yoi.orchestrator.budget_settings import Budgets

__all__ = ["MAX_VALIDATION_COMMANDS", "OrchestratorSettings", "PhaseTimeouts"]

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
    "max_attempts",
    "retry_backoff",
    "retry_backoff_max",
    "plan_gate",
    "merge_gate",
    "timeouts",
    "budgets",  # read by budget_settings
}
_TIMEOUT_KEYS = ("intake", "implement", "review", "validation")


@dataclass(frozen=True, slots=True)
class PhaseTimeouts:
    """How long each phase may go without a sign of life (validation: in all) before its
    step is cancelled and retried."""

    intake: float = 600.0
    implement: float = 900.0
    review: float = 600.0
    validation: float = 1200.0

    @classmethod
    def from_table(cls, table: object) -> PhaseTimeouts:
        if not isinstance(table, Mapping):
            raise _error("orchestrator.timeouts", "must be a table")
        unknown = sorted(str(key) for key in table if key not in _TIMEOUT_KEYS)
        if unknown:
            raise _error(f"orchestrator.timeouts.{unknown[0]}", "is not a phase with a timeout")
        default = cls()
        return cls(
            **{
                name: _seconds(table, name, getattr(default, name), where="orchestrator.timeouts")
                for name in _TIMEOUT_KEYS
            }
        )

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in _TIMEOUT_KEYS}


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
    max_attempts: int = 3
    retry_backoff: float = 10.0
    retry_backoff_max: float = 300.0
    plan_gate: bool = False
    merge_gate: bool = False
    timeouts: PhaseTimeouts = PhaseTimeouts()
    budgets: Budgets = field(default_factory=Budgets)

    def backoff(self, tries: int) -> float:
        """Seconds to wait before try ``tries + 1`` (``tries`` ≥ 1 have failed)."""
        return float(min(self.retry_backoff * 2 ** max(0, tries - 1), self.retry_backoff_max))

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
            max_attempts=_count(table, "max_attempts", default.max_attempts, 20),
            retry_backoff=_seconds(table, "retry_backoff", default.retry_backoff),
            retry_backoff_max=_seconds(table, "retry_backoff_max", default.retry_backoff_max),
            plan_gate=_flag(table, "plan_gate", default.plan_gate),
            merge_gate=_flag(table, "merge_gate", default.merge_gate),
            timeouts=PhaseTimeouts.from_table(table.get("timeouts", {})),
            budgets=Budgets.from_table(table.get("budgets", {})),
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
            "max_attempts": self.max_attempts,
            "retry_backoff": self.retry_backoff,
            "retry_backoff_max": self.retry_backoff_max,
            "plan_gate": self.plan_gate,
            "merge_gate": self.merge_gate,
            "timeouts": self.timeouts.to_dict(),
            "budgets": self.budgets.to_dict(),
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


def _seconds(
    table: Mapping[str, object], key: str, default: float, *, where: str = "orchestrator"
) -> float:
    value = table.get(key, default)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= 86_400
    ):
        raise _error(f"{where}.{key}", "must be a number of seconds above 0, at most a day")
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
