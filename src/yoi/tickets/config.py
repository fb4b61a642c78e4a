"""``.yoi/ticket.config.toml``: where the store lives, its language, and the orchestration roles.

::

    [backend]
    root = ".yoi/tickets"              # relative to the workspace; stays inside it
    provider = "builtin:yoi_local"     # read for compatibility, not used

    [ticket]
    language = "Japanese"              # ja, ja-JP, japanese, 日本語, or English (the default)

    [orchestration]
    branch = "yoi/orchestration"
    worktree_dir = ".worktree"
    worktree_name = "orchestration"

    [roles.coder]                      # intake, orchestrator, coder, reviewer
    profile = "builtin:coder"
    workflow = "multi-agent-workflow"

Read strictly: an unknown table or key, or a value of the wrong type, is an
``invalid_request`` that names it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from yoi.errors import InvalidRequest
from yoi.tickets.texts import Language, language_named

__all__ = ["CONFIG_NAME", "DEFAULT_ROOT", "RoleSettings", "TicketConfig"]

CONFIG_NAME = "ticket.config.toml"
DEFAULT_ROOT = ".yoi/tickets"
ROLES = ("intake", "orchestrator", "coder", "reviewer")
_TABLES: Mapping[str, frozenset[str]] = {
    "backend": frozenset({"root", "provider"}),
    "ticket": frozenset({"language"}),
    "orchestration": frozenset({"branch", "worktree_dir", "worktree_name"}),
}
_ROLE_KEYS = frozenset({"profile", "workflow"})


@dataclass(frozen=True, slots=True)
class RoleSettings:
    profile: str | None = None
    workflow: str | None = None


@dataclass(frozen=True, slots=True)
class TicketConfig:
    root: str = DEFAULT_ROOT
    language: Language = Language.EN
    orchestration: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, RoleSettings] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> TicketConfig:
        """The config at ``path``; the defaults when there is no file."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError):
            raise _error("", "cannot be read as UTF-8 text") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise _error("", f"is not valid TOML ({error})") from None
        return cls.from_mapping(document)

    @classmethod
    def from_mapping(cls, document: Mapping[str, object]) -> TicketConfig:
        tables = {name: _table(document, name) for name in (*_TABLES, "roles")}
        unknown = set(document) - set(tables)
        if unknown:
            raise _error(sorted(unknown)[0], "is not a table this file takes")
        values = {name: _strings(tables[name], name, keys) for name, keys in _TABLES.items()}
        language = values["ticket"].get("language")
        return cls(
            root=_root(values["backend"].get("root", DEFAULT_ROOT)),
            language=Language.EN if language is None else _language(language),
            orchestration=values["orchestration"],
            roles=_roles(tables["roles"]),
        )

    def store_root(self, workspace: Path) -> Path:
        return workspace / self.root


def _table(document: Mapping[str, object], name: str) -> Mapping[str, object]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise _error(name, "must be a table")
    return table


def _strings(table: Mapping[str, object], where: str, keys: frozenset[str]) -> dict[str, str]:
    for key, value in table.items():
        if key not in keys:
            raise _error(f"{where}.{key}", "is not a key this table takes")
        if not isinstance(value, str):
            raise _error(f"{where}.{key}", "must be a string")
    return {key: str(value) for key, value in table.items()}


def _roles(table: Mapping[str, object]) -> dict[str, RoleSettings]:
    roles: dict[str, RoleSettings] = {}
    for name, settings in table.items():
        if name not in ROLES:
            raise _error(f"roles.{name}", f"is not a role; the roles are {', '.join(ROLES)}")
        if not isinstance(settings, dict):
            raise _error(f"roles.{name}", "must be a table")
        values = _strings(settings, f"roles.{name}", _ROLE_KEYS)
        roles[name] = RoleSettings(values.get("profile"), values.get("workflow"))
    return roles


def _root(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise _error("backend.root", "must be a relative path inside the workspace")
    return value


def _language(value: str) -> Language:
    language = language_named(value)
    if language is None:
        raise _error(
            "ticket.language", f"{value!r} is not a language yoi writes (English, Japanese)"
        )
    return language


def _error(key: str, problem: str) -> InvalidRequest:
    where = f"{CONFIG_NAME}: {key}" if key else CONFIG_NAME
    return InvalidRequest(f"{where} {problem}", details={"field": key or CONFIG_NAME})
