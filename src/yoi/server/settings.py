"""What ``yoi runtime serve`` is asked for: flags, a TOML file, or both (flags win).

The TOML file holds the same settings as the flags, by the same names::

    runtime_id = "build-box"
    display_name = "Build box"
    bind = "0.0.0.0:7701"
    store = "fs"
    store_root = "state/runtime"        # relative to this file's directory
    token_env = "YOI_RUNTIME_TOKEN"     # or token_file = "runtime.token"
    model = "openai:gpt-4o-mini"
    role_models = {coder = "openai:gpt-4o"}   # a role's workers on their own model
    repositories = ["../checkout"]      # what workdirs may be made of; relative to this file
    sandbox = "bwrap"                   # or "none": bash unconfined, shown as a warning
    worktrees = "../checkout/.worktree" # where workdirs go (default: beside the store)
    spare_worktrees = 2                 # deleted worktrees kept to make the next one fast

A token is only ever read from the environment or a file, never from the
flags or the TOML itself, and never shown.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from yoi.errors import InvalidRequest, ModelUnavailable
from yoi.providers.selection import ROLES, parse_reference
from yoi.runtime.stores import StoreSettings
from yoi.tools.sandbox import SandboxMode

__all__ = [
    "DEFAULT_BIND",
    "DEFAULT_TOKEN_ENV",
    "ServeSettings",
    "is_loopback",
    "parse_bind",
]

DEFAULT_BIND = "127.0.0.1:7701"
DEFAULT_TOKEN_ENV = "YOI_RUNTIME_TOKEN"
_KEYS = {
    "runtime_id",
    "display_name",
    "bind",
    "store",
    "store_root",
    "store_retain_event_bytes",
    "token_env",
    "token_file",
    "model",
    "role_models",
    "ping_interval",
    "repositories",
    "sandbox",
    "worktrees",
    "spare_worktrees",
}


@dataclass(frozen=True, slots=True)
class ServeSettings:
    runtime_id: str | None = None
    display_name: str | None = None
    bind: str = DEFAULT_BIND
    store: StoreSettings = field(default_factory=StoreSettings)
    token_env: str | None = None
    token_file: Path | None = None
    model: str | None = None
    role_models: Mapping[str, str] = field(default_factory=dict)
    """The model of each role that has its own (``orchestrator``, ``coder``, ``reviewer``)."""
    ping_interval: float = 20.0
    """Seconds between keepalive pings on observation streams; a peer gets as long to answer."""
    repositories: tuple[Path, ...] = ()
    """The repositories workdirs may be made of (absolute); none: no workdirs, no file tools."""
    sandbox: SandboxMode = SandboxMode.BWRAP
    worktrees: Path | None = None
    spare_worktrees: int = 0
    """Deleted worktrees kept per repository (detached) to be the next workdir: its checkout
    then writes only the files that differ."""
    """Where workdirs' files go (absolute), a folder shared with others; ``None``: beside the
    store."""

    @classmethod
    def from_toml(cls, path: Path) -> ServeSettings:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise InvalidRequest(f"cannot read {path}: {error.strerror}") from error
        except tomllib.TOMLDecodeError as error:
            raise InvalidRequest(f"{path} is not valid TOML: {error}") from error
        return cls.from_mapping(document, base=path.parent)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object], *, base: Path) -> ServeSettings:
        unknown = sorted(set(values) - _KEYS)
        if unknown:
            raise InvalidRequest(
                f"unknown runtime settings: {', '.join(unknown)}", details={"unknown": unknown}
            )
        token_file = _optional_str(values, "token_file")
        return cls(
            runtime_id=_optional_str(values, "runtime_id"),
            display_name=_optional_str(values, "display_name"),
            bind=_optional_str(values, "bind") or DEFAULT_BIND,
            store=StoreSettings.from_mapping(values, base=base),
            token_env=_optional_str(values, "token_env"),
            token_file=None
            if token_file is None
            else base / _expanded(Path(token_file), "token_file"),
            model=_optional_str(values, "model"),
            role_models=_role_models(values.get("role_models", {})),
            ping_interval=_seconds(values.get("ping_interval", 20.0)),
            repositories=_repositories(values.get("repositories", []), base=base),
            sandbox=_sandbox(values.get("sandbox", SandboxMode.BWRAP.value)),
            worktrees=_folder(values.get("worktrees"), base=base),
            spare_worktrees=_spares(values.get("spare_worktrees", 0)),
        )

    def override(self, flags: Mapping[str, object], *, cwd: Path) -> ServeSettings:
        """These settings with every flag that was given (not None) put over them.

        ``store`` and ``store_root`` flags rebuild the store settings, with a
        relative root taken from ``cwd`` (a root alone means ``fs``); a token
        flag replaces both token settings. Repository flags (relative ones from
        ``cwd``) replace the file's list; none given leaves it.
        """
        given = {name: value for name, value in flags.items() if value not in (None, ())}
        if "repositories" in given:
            given["repositories"] = _repositories(given["repositories"], base=cwd)
        if "sandbox" in given:
            given["sandbox"] = _sandbox(given["sandbox"])
        if "role_models" in given:
            flagged = _role_models(_role_flags(given["role_models"]))
            given["role_models"] = {**self.role_models, **flagged}
        if "spare_worktrees" in given:
            given["spare_worktrees"] = _spares(given["spare_worktrees"])
        if "worktrees" in given:
            given["worktrees"] = _folder(given["worktrees"], base=cwd)
        kind, root = given.pop("store", None), given.pop("store_root", None)
        if kind is None and root is not None:
            kind = "fs"  # a root given on the command line is meant to be used
        if kind is not None or root is not None:
            store: dict[str, object] = {"store": kind or self.store.kind}
            if self.store.retain_event_bytes is not None:
                store["store_retain_event_bytes"] = self.store.retain_event_bytes
            chosen = root if root is not None else self.store.root
            if chosen is not None:
                store["store_root"] = str(chosen)
            given["store"] = StoreSettings.from_mapping(store, base=cwd)
        if "token_env" in given or "token_file" in given:
            given.setdefault("token_env", None)
            given.setdefault("token_file", None)
        return replace(self, **given)  # type: ignore[arg-type]

    def token(self, env: Mapping[str, str]) -> str | None:
        """The bearer token, from the named variable or file; None if none is configured."""
        if self.token_env is not None and self.token_file is not None:
            raise InvalidRequest("give a token by --token-env or --token-file, not both")
        if self.token_file is not None:
            return _token_from_file(self.token_file)
        if self.token_env is not None:
            value = env.get(self.token_env, "").strip()
            if not value:
                raise InvalidRequest(f"the token variable {self.token_env} is empty or unset")
            return value
        return env.get(DEFAULT_TOKEN_ENV, "").strip() or None

    def address(self) -> tuple[str, int]:
        return parse_bind(self.bind)


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6); port 0 picks a free one."""
    host, colon, port_text = bind.rpartition(":")
    host = host.strip("[]")
    digits = port_text.isascii() and port_text.isdigit()
    if not colon or not host or not digits or int(port_text) > 65535:
        raise InvalidRequest(
            f"bind must be HOST:PORT, such as 127.0.0.1:7701 (port 0 picks a free port), "
            f"not {bind!r}",
            details={"field": "bind"},
        )
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_from_file(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise InvalidRequest(f"cannot read the token file {path}: {error.strerror}") from error
    if not value:
        raise InvalidRequest(f"the token file {path} is empty")
    return value


def _optional_str(values: Mapping[str, object], key: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{key} must be a non-empty string", details={"field": key})
    return value.strip()


def _repositories(value: object, *, base: Path) -> tuple[Path, ...]:
    """Each entry a non-empty path string, taken from ``base`` when relative."""
    entries = list(value) if isinstance(value, list | tuple) else None
    if entries is None or not all(isinstance(entry, str | Path) for entry in entries):
        raise InvalidRequest(
            "repositories must be a list of paths", details={"field": "repositories"}
        )
    paths: list[Path] = []
    for entry in entries:
        if not str(entry).strip() or "\0" in str(entry):
            raise InvalidRequest(
                "repositories must not hold an empty path", details={"field": "repositories"}
            )
        paths.append(base / _expanded(Path(entry), "repositories"))
    return tuple(dict.fromkeys(paths))


def _role_flags(value: object) -> dict[str, str]:
    """``ROLE=PROVIDER:MODEL`` flags as a table; a later flag for a role wins."""
    flags = list(value) if isinstance(value, list | tuple) else [value]
    table: dict[str, str] = {}
    for flag in flags:
        role, equals, reference = str(flag).partition("=")
        if not equals:
            raise InvalidRequest(
                f"--role-model takes ROLE=PROVIDER:MODEL, not {flag!r}",
                details={"field": "role_models"},
            )
        table[role.strip()] = reference
    return table


def _role_models(value: object) -> dict[str, str]:
    """A table of role to model reference, each role known and each reference usable."""
    if not isinstance(value, dict):
        raise InvalidRequest(
            'role_models must be a table of role = "provider:model"',
            details={"field": "role_models"},
        )
    found: dict[str, str] = {}
    for role, reference in value.items():
        if role not in ROLES:
            raise InvalidRequest(
                f"role_models: {role!r} is not a role with a model (roles: {', '.join(ROLES)})",
                details={"field": "role_models", "role": str(role)},
            )
        if not isinstance(reference, str):
            raise InvalidRequest(
                f"role_models.{role} must be a string", details={"field": "role_models"}
            )
        try:
            parse_reference(reference)
        except ModelUnavailable as error:
            raise InvalidRequest(
                f"role_models.{role} is unusable: {error.message}",
                details={"field": "role_models", "role": role},
            ) from error
        found[role] = reference.strip()
    return found


def _folder(value: object, *, base: Path) -> Path | None:
    """The worktree folder: a non-empty path string, taken from ``base`` when relative."""
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value).strip() or "\0" in str(value):
        raise InvalidRequest("worktrees must be a folder's path", details={"field": "worktrees"})
    return base / _expanded(Path(value), "worktrees")


def _expanded(path: Path, field: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; a user with no home is refused."""
    try:
        return path.expanduser()
    except RuntimeError:
        raise InvalidRequest(
            f"{field}: {path} names a home directory that does not exist",
            details={"field": field},
        ) from None


def _sandbox(value: object) -> SandboxMode:
    modes = {mode.value: mode for mode in SandboxMode}
    if isinstance(value, str) and value in modes:
        return modes[value]
    known = " or ".join(repr(mode) for mode in modes)
    raise InvalidRequest(f"sandbox must be {known}", details={"field": "sandbox"})


def _spares(value: object) -> int:
    """How many spare worktrees: a whole number from 0 to 16."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 16:
        raise InvalidRequest(
            "spare_worktrees must be a whole number from 0 to 16",
            details={"field": "spare_worktrees"},
        )
    return value


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise InvalidRequest(
            "ping_interval must be a number of seconds from 0 to 3600",
            details={"field": "ping_interval"},
        )
    return float(value)
