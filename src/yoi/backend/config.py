"""What ``yoi serve`` reads from ``.yoi/config.toml``: where to listen and which runtimes to join.

::

    [backend]
    listen = "127.0.0.1:8787"
    token_env = "YOI_BACKEND_TOKEN"     # the variable that holds the backend's own token

    [[runtimes]]
    id = "build-box"
    display_name = "Build box"
    url = "http://10.0.0.7:7701"
    token_env = "BUILD_BOX_TOKEN"       # a token is never written in this file
    timeout = 10.0                      # seconds, optional

    [local_runtime]
    enabled = true                      # the default: `yoi serve` runs runtime `local`
    sandbox = "none"                    # optional: bash unconfined there (a warning)

The model tables (``[model]``, ``[providers.*]``) are read by
:mod:`yoi.providers.selection`; other tables belong to other parts and are
left alone. Everything here is checked strictly: a mistake names its key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from yoi.errors import InvalidRequest
from yoi.ids import validate_id
from yoi.server.settings import parse_bind

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_TOKEN_ENV",
    "EMBEDDED_RUNTIME_ID",
    "LOCAL_RUNTIME_ID",
    "BackendSettings",
    "LocalRuntimeSettings",
    "RemoteRuntimeSettings",
]

DEFAULT_LISTEN = "127.0.0.1:8787"
DEFAULT_TOKEN_ENV = "YOI_BACKEND_TOKEN"
EMBEDDED_RUNTIME_ID = "backend-internal"
LOCAL_RUNTIME_ID = "local"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKEND_KEYS = {"listen", "token_env"}
_RUNTIME_KEYS = {"id", "display_name", "url", "token_env", "timeout"}
_LOCAL_KEYS = {"enabled", "sandbox"}


@dataclass(frozen=True, slots=True)
class RemoteRuntimeSettings:
    """One ``[[runtimes]]`` entry: a runtime process the backend drives."""

    runtime_id: str
    url: str
    display_name: str | None = None
    token_env: str | None = None
    timeout: float = 10.0

    def token(self, env: Mapping[str, str]) -> str | None:
        return None if self.token_env is None else env.get(self.token_env) or None


@dataclass(frozen=True, slots=True)
class LocalRuntimeSettings:
    """The ``[local_runtime]`` table: the runtime process ``yoi serve`` starts for the workspace."""

    enabled: bool = True
    sandbox: Literal["bwrap", "none"] | None = None
    """How its ``bash`` is confined; None leaves the runtime's default (bwrap)."""


@dataclass(frozen=True, slots=True)
class BackendSettings:
    listen: str = DEFAULT_LISTEN
    token_env: str = DEFAULT_TOKEN_ENV
    runtimes: tuple[RemoteRuntimeSettings, ...] = ()
    local_runtime: LocalRuntimeSettings = field(default_factory=LocalRuntimeSettings)

    @classmethod
    def from_toml(cls, path: Path) -> BackendSettings:
        """Read ``path``; a missing file gives the defaults."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as error:
            raise InvalidRequest(
                f"cannot read {path.name}: {error.strerror}", details={"file": path.name}
            ) from error
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InvalidRequest(
                f"{path.name} is not valid TOML: {error}", details={"file": path.name}
            ) from error
        return _Reader(path).settings(document)

    def token(self, env: Mapping[str, str]) -> str | None:
        return env.get(self.token_env) or None


class _Reader:
    def __init__(self, path: Path) -> None:
        self._path = path

    def settings(self, document: Mapping[str, object]) -> BackendSettings:
        backend = document.get("backend", {})
        if not isinstance(backend, dict):
            raise self._error("backend", "must be a table")
        self._only(backend, _BACKEND_KEYS, "backend")
        listen = self._string(backend, "listen", "backend.listen") or DEFAULT_LISTEN
        try:
            parse_bind(listen)
        except InvalidRequest as error:
            raise self._error("backend.listen", f"is unusable: {error.message}") from error
        token_env = self._env_name(backend, "token_env", "backend.token_env")
        local = self._local(document.get("local_runtime", {}))
        runtimes = self._runtimes(document.get("runtimes", []))
        for index, entry in enumerate(runtimes):
            if local.enabled and entry.runtime_id == LOCAL_RUNTIME_ID:
                raise self._error(
                    f"runtimes[{index}].id",
                    f"{LOCAL_RUNTIME_ID} is the local runtime's id (unless [local_runtime] "
                    "enabled = false)",
                )
        return BackendSettings(
            listen=listen,
            token_env=token_env or DEFAULT_TOKEN_ENV,
            runtimes=runtimes,
            local_runtime=local,
        )

    def _local(self, table: object) -> LocalRuntimeSettings:
        if not isinstance(table, dict):
            raise self._error("local_runtime", "must be a table")
        self._only(table, _LOCAL_KEYS, "local_runtime")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise self._error("local_runtime.enabled", "must be true or false")
        return LocalRuntimeSettings(enabled, self._sandbox(table.get("sandbox")))

    def _sandbox(self, value: object) -> Literal["bwrap", "none"] | None:
        if value is None:
            return None
        if value == "bwrap":
            return "bwrap"
        if value == "none":
            return "none"
        raise self._error("local_runtime.sandbox", 'must be "bwrap" or "none"')

    def _runtimes(self, raw: object) -> tuple[RemoteRuntimeSettings, ...]:
        if not isinstance(raw, list):
            raise self._error("runtimes", "must be an array of tables ([[runtimes]])")
        found: list[RemoteRuntimeSettings] = []
        for index, entry in enumerate(raw):
            where = f"runtimes[{index}]"
            if not isinstance(entry, dict):
                raise self._error(where, "must be a table")
            found.append(self._runtime(entry, where))
        ids = [entry.runtime_id for entry in found]
        for runtime_id in ids:
            if ids.count(runtime_id) > 1:
                raise self._error("runtimes", f"lists the id {runtime_id!r} twice")
        return tuple(found)

    def _runtime(self, entry: Mapping[str, object], where: str) -> RemoteRuntimeSettings:
        if "token" in entry:
            raise self._error(
                f"{where}.token",
                "a token never belongs in a config file: put it in an environment variable "
                "and name that variable with token_env",
            )
        self._only(entry, _RUNTIME_KEYS, where)
        runtime_id = self._string(entry, "id", f"{where}.id")
        if runtime_id is None:
            raise self._error(f"{where}.id", "is required")
        try:
            validate_id(runtime_id, field="id")
        except InvalidRequest as error:
            raise self._error(f"{where}.id", f"is unusable: {error.message}") from error
        if runtime_id == EMBEDDED_RUNTIME_ID:
            raise self._error(f"{where}.id", f"{EMBEDDED_RUNTIME_ID} is the embedded runtime's id")
        url = self._string(entry, "url", f"{where}.url")
        if url is None or not _is_http_url(url):
            raise self._error(f"{where}.url", "must be an http:// or https:// URL with a host")
        return RemoteRuntimeSettings(
            runtime_id=runtime_id,
            url=url.rstrip("/"),
            display_name=self._string(entry, "display_name", f"{where}.display_name"),
            token_env=self._env_name(entry, "token_env", f"{where}.token_env"),
            timeout=self._timeout(entry.get("timeout", 10.0), f"{where}.timeout"),
        )

    def _timeout(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 600:
            raise self._error(key, "must be a number of seconds above 0 and at most 600")
        return float(value)

    def _env_name(self, table: Mapping[str, object], key: str, dotted: str) -> str | None:
        value = self._string(table, key, dotted)
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise self._error(dotted, "must be the name of an environment variable")
        return value

    def _string(self, table: Mapping[str, object], key: str, dotted: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._error(dotted, "must be a non-empty string")
        return value.strip()

    def _only(self, table: Mapping[str, object], allowed: set[str], where: str) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed))
            raise self._error(f"{where}.{unknown[0]}", f"is not a setting (known: {known})")

    def _error(self, key: str, problem: str) -> InvalidRequest:
        return InvalidRequest(
            f"{self._path.name}: {key} {problem}", details={"file": self._path.name, "key": key}
        )


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username
