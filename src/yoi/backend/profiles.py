"""The workspace's config bundle: the builtin profiles, with overrides from ``.yoi/profiles/``.

Each ``.yoi/profiles/<name>.md`` is a profile: its Markdown is the prompt, and
an optional TOML block between ``+++`` lines at the top sets the rest::

    +++
    description = "Reviews with an eye for tests"
    tools = []
    model = "openai:gpt-4o"        # a preference; the runtime's model decides
    max_turns = 40
    grant = ["read", "glob", "grep"]   # capability bits on its workdir (a request may narrow)
    permissions = ['bash: "npm publish*" -> ask']   # in order; the first that matches decides
    +++
    You review changes ...

A file named after a builtin profile (``coder.md``) replaces it; any other
name adds a profile. The bundle goes to every runtime the backend drives, so
a profile means the same everywhere.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

import yoi
from yoi.errors import InvalidRequest
from yoi.runtime import BUILTIN_PROFILES, ConfigBundle, CreateWorkerRequest, RoleIntent
from yoi.workspace import Workspace

__all__ = ["profile_for_role", "workspace_bundle"]

_FENCE = "+++"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SETTINGS = {
    "description",
    "tools",
    "model",
    "max_turns",
    "max_output_tokens",
    "grant",
    "workspace",
    "report",
    "permissions",
}


def profile_for_role(request: CreateWorkerRequest, bundle: ConfigBundle) -> CreateWorkerRequest:
    """``request``, with the profile named after its role when it names no profile itself and
    the bundle has one (``--role coder`` works as a coder); otherwise unchanged."""
    if request.profile != "runtime_default" or not isinstance(request.intent, RoleIntent):
        return request
    if request.intent.role not in {profile.name for profile in bundle.profiles}:
        return request
    return replace(request, profile=f"named:{request.intent.role}")


def workspace_bundle(workspace: Workspace) -> ConfigBundle:
    """The bundle of ``workspace``; a malformed override is ``invalid_request`` naming its file."""
    profiles: dict[str, dict[str, object]] = {
        profile.name: {
            "prompt": profile.prompt_text(),
            "tools": sorted(profile.tool_grants),
            "max_turns": profile.model.max_turns,
            "description": profile.description,
            "grant": sorted(bit.value for bit in profile.grant),
            "workspace": profile.workspace.value,
            "report": profile.report,
            "permissions": profile.rules.lines(),
        }
        for profile in BUILTIN_PROFILES
    }
    overrides = sorted(workspace.profiles.glob("*.md")) if workspace.profiles.is_dir() else []
    for path in overrides:
        profiles[path.stem] = _override(path)
    raw = {
        "revision": f"yoi {yoi.__version__}, {len(overrides)} workspace override(s)",
        "provenance": {"source": "workspace", "workspace": workspace.name},
        "profiles": profiles,
    }
    try:
        return ConfigBundle.from_mapping(raw)
    except InvalidRequest as error:
        raise InvalidRequest(
            f"the workspace profiles do not make a valid bundle: {error.message}",
            details=error.details,
        ) from error


def _override(path: Path) -> dict[str, object]:
    where = f"profiles/{path.name}"
    if _NAME.fullmatch(path.stem) is None:
        raise InvalidRequest(
            f"{where}: a profile name is 1 to 64 of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit",
            details={"file": where},
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"cannot read {where}", details={"file": where}) from error
    settings: dict[str, object] = {}
    lines = text.splitlines(keepends=True)
    if lines and lines[0].strip() == _FENCE:
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == _FENCE), None)
        if end is None:
            raise InvalidRequest(f"{where}: the +++ settings block is not closed")
        try:
            settings = tomllib.loads("".join(lines[1:end]))
        except tomllib.TOMLDecodeError as error:
            raise InvalidRequest(f"{where}: the settings are not valid TOML: {error}") from error
        text = "".join(lines[end + 1 :])
        unknown = sorted(set(settings) - _SETTINGS)
        if unknown:
            raise InvalidRequest(
                f"{where}: unknown settings {', '.join(unknown)} (known: {sorted(_SETTINGS)})",
                details={"file": where},
            )
    if not text.strip():
        raise InvalidRequest(f"{where}: the prompt is empty", details={"file": where})
    return {**settings, "prompt": text.strip() + "\n"}
