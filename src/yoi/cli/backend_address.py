"""Which backend a command talks to, and whether it serves the workspace the command runs in.

The backend is, in order: the URL given (``--backend`` or ``YOI_BACKEND_URL``;
``http://`` is assumed when it names no scheme), the record of the
``yoi serve`` running for the workspace around the current directory
(``.yoi/state/backend.json``), its ``[backend] listen``, else
``127.0.0.1:8787``. A backend found without being named must serve this
workspace (:func:`check_workspace`): one serving another workspace is
refused with ``workspace_mismatch``, and a named one is used with a note.

The HTTP client needs the server extra, so it is imported when first used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import click

from yoi.errors import InvalidRequest, UnsupportedOperation, WorkspaceMismatch
from yoi.serving import read_record, read_workspace_id
from yoi.workspace import Workspace

if TYPE_CHECKING:
    from yoi.client.backend import BackendClient

__all__ = [
    "BACKEND_HELP",
    "backend_option",
    "BackendAddress",
    "Here",
    "backend_url",
    "check_workspace",
    "connect",
    "find_backend",
    "locate",
]

BACKEND_HELP = (
    "The backend, as http://HOST:PORT or HOST:PORT (default: the `yoi serve` running for "
    "this workspace, else [backend] listen in .yoi/config.toml, else 127.0.0.1:8787). "
    "Its token comes from YOI_BACKEND_TOKEN."
)
backend_option = click.option(
    "--backend",
    "backend_url",
    metavar="URL",
    envvar="YOI_BACKEND_URL",
    show_envvar=True,
    help=BACKEND_HELP,
)
"""The ``--backend`` of a command group that talks to a running backend."""

DEFAULT_LISTEN = "127.0.0.1:8787"
"""``yoi serve``'s default (``yoi.backend.config``), known here without importing the backend."""
DEFAULT_TOKEN_ENV = "YOI_BACKEND_TOKEN"
PROBE_SECONDS = 2.0
"""How long ``yoi chat`` waits for a backend's health check before it chats on its own.

No backend at all is known at once (the connection is refused); this bounds
only a backend that is there but slow, as on a busy machine, where half a
second proved too short.
"""
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}
_SCHEMES = {"http", "https"}


@dataclass(frozen=True, slots=True)
class Here:
    """The workspace around the current directory, as a client knows it."""

    name: str
    workspace_id: str | None
    """None until a ``yoi serve`` has run here."""
    exists: bool
    """Whether it has a ``.yoi/`` at all."""


@dataclass(frozen=True, slots=True)
class BackendAddress:
    url: str
    token: str | None = field(default=None, repr=False)
    named: bool = True
    """Whether the user named this backend (rather than yoi finding it)."""
    here: Here | None = None


def backend_url(text: str) -> str:
    """``text`` as a backend's base URL (``http://`` when it names no scheme).

    Anything but an http(s) URL with a host, a valid port and no credentials,
    query or fragment is ``invalid_request``.
    """
    raw = text.strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
        host = parts.hostname
    except ValueError as error:
        raise _not_a_url(text, str(error)) from error
    if parts.scheme.lower() not in _SCHEMES:
        raise _not_a_url(text, f"the scheme must be http or https, not {parts.scheme!r}")
    if not host or any(char.isspace() for char in raw):
        raise _not_a_url(text, "it names no host")
    if parts.username is not None or parts.password is not None:
        raise _not_a_url(text, "credentials do not go in it: set YOI_BACKEND_TOKEN")
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise _not_a_url(text, "a backend's URL has no query or fragment")
    netloc = f"[{host}]" if ":" in host else host
    netloc += "" if port is None else f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _not_a_url(text: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"{text!r} is not a backend URL ({why}); for example http://127.0.0.1:8787",
        details={"field": "backend"},
    )


def locate(url: str | None, cwd: Path, env: Mapping[str, str]) -> BackendAddress:
    """The backend to talk to from ``cwd``: ``url`` when given, else the running ``yoi serve``
    of the workspace, else its ``[backend] listen`` (a wildcard host means this machine),
    else ``yoi serve``'s default.

    The token comes from the variable ``[backend] token_env`` names
    (``YOI_BACKEND_TOKEN`` by default).
    """
    workspace = Workspace.find(cwd)
    here = Here(workspace.name, read_workspace_id(workspace), workspace.dot.is_dir())
    listen, token = _settings(workspace, env)
    if url is not None:
        return BackendAddress(backend_url(url), token, named=True, here=here)
    record = read_record(workspace)
    found = record.url if record is not None else _url_of(listen)
    return BackendAddress(found, token, named=False, here=here)


def _settings(workspace: Workspace, env: Mapping[str, str]) -> tuple[str, str | None]:
    if not workspace.config.exists():
        return DEFAULT_LISTEN, env.get(DEFAULT_TOKEN_ENV) or None
    try:
        from yoi.backend.config import BackendSettings
    except ImportError as error:
        raise needs_server_extra(error) from error
    settings = BackendSettings.from_toml(workspace.config)
    return settings.listen, settings.token(env)


def _url_of(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def connect(address: BackendAddress, *, timeout: float = 30.0) -> BackendClient:
    """A client of the backend at ``address`` (``unsupported_operation`` without the extra)."""
    try:
        from yoi.client.backend import BackendClient
    except ImportError as error:
        raise needs_server_extra(error) from error
    return BackendClient(address.url, token=address.token, timeout=timeout)


def needs_server_extra(error: ImportError) -> UnsupportedOperation:
    return UnsupportedOperation(
        f"talking to a backend needs the server extra: pip install 'yoi[server]' ({error.name})"
    )


def find_backend(url: str | None, cwd: Path, env: Mapping[str, str]) -> BackendAddress | None:
    """The backend at ``url`` (or the workspace's) if one answers at once, else None."""
    try:
        address = locate(url, cwd, env)
        return address if asyncio.run(_answers(address)) else None
    except UnsupportedOperation:
        return None


async def _answers(address: BackendAddress) -> bool:
    async with connect(address, timeout=PROBE_SECONDS) as client:
        return await client.health()


async def check_workspace(client: BackendClient, address: BackendAddress) -> str | None:
    """Whether the backend serves the workspace here: None when it does (or cannot say),
    a note to show when it serves another one that was asked for by name or when there is
    no workspace here; ``workspace_mismatch`` when yoi found it on its own."""
    here = address.here
    info = await client.workspace()
    if here is None or info.workspace_id is None or info.workspace_id == here.workspace_id:
        return None
    if not here.exists:
        return f"the backend at {address.url} serves workspace '{info.name}'"
    mismatch = (
        f"the backend at {address.url} serves workspace '{info.name}', "
        f"not '{here.name}' (the workspace here)"
    )
    if address.named:
        return mismatch
    raise WorkspaceMismatch(
        f"{mismatch}; run `yoi serve` here, or pass --backend URL to use that one anyway",
        details={"backend_workspace": info.name, "workspace": here.name},
    )
