"""Checking a create request and turning it into a new worker's record."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

from yoi.engine.tool import Tool
from yoi.errors import ConfigBundleMissing, InvalidRequest, UnsupportedOperation
from yoi.ids import validate_id
from yoi.runtime.bundles import ConfigBundle, check_digest
from yoi.runtime.grants import narrow
from yoi.runtime.profiles import Profile, ProfileCatalog
from yoi.runtime.requests import (
    AssistantIntent,
    CreateWorkerRequest,
    Intent,
    RoleIntent,
    TaskIntent,
)
from yoi.tools.scope import Capability, Grant

__all__ = ["CheckedCreate", "check_create", "is_unicode"]


@dataclass(frozen=True, slots=True)
class CheckedCreate:
    profile_ref: str
    profile: Profile
    display_name: str | None
    tools: tuple[Tool, ...]
    grant: Grant
    """The profile's grant, narrowed by the request and the host."""


def check_create(
    request: CreateWorkerRequest,
    *,
    profiles: ProfileCatalog,
    bundles: Mapping[str, ConfigBundle],
    tools: Sequence[Tool],
    host: frozenset[Capability],
    max_display_name: int,
) -> CheckedCreate:
    """Validate everything about ``request`` that does not depend on existing workers.

    The runtime's host policy has the last word: a capability it does not
    offer, asked for by the request or granted by a bundle's profile, is
    ``unsupported_operation``.
    """
    if request.worker_id is not None:
        validate_id(request.worker_id, field="worker_id")
    _check_intent(request.intent)
    reasons = (item.reason for item in request.requested_capabilities)
    _unicode(reasons, "requested_capabilities")
    profile = _resolve(request, profiles, bundles)
    offered = {tool.name for tool in tools}
    names = {_capability_name(item.name) for item in request.requested_capabilities}
    _offered(names, offered, "requested capability")
    if profile.text is not None:  # a bundle's profile declares its own tool policy
        _offered(profile.tool_grants, offered, f"tool granted by profile {profile.name}")
    granted = tuple(t for t in tools if t.name in names and t.name in profile.tool_grants)
    display_name = _display_name(request.display_name, max_display_name)
    ref = request.profile if request.profile != "runtime_default" else f"builtin:{profile.name}"
    if request.grant is not None and request.workdir is None:
        raise InvalidRequest(
            "a grant is of a workdir: name one with workdir", details={"field": "grant"}
        )
    grant = narrow(profile.grant, request.grant, host)
    return CheckedCreate(ref, profile, display_name, granted, grant)


def _resolve(
    request: CreateWorkerRequest, profiles: ProfileCatalog, bundles: Mapping[str, ConfigBundle]
) -> Profile:
    if request.config_bundle is None:
        return profiles.resolve(request.profile)
    digest = check_digest(request.config_bundle.digest)
    bundle = bundles.get(digest)
    if bundle is None:
        raise ConfigBundleMissing(
            f"this runtime has no config bundle {digest}; sync it with PUT /v1/config-bundles",
            details={"digest": digest},
        )
    kind, _, name = request.profile.partition(":")
    return bundle.profile(name) if kind == "named" else profiles.resolve(request.profile)


def _offered(names: Iterable[str], offered: set[str], what: str) -> None:
    missing = sorted(set(names) - offered)
    if missing:
        raise UnsupportedOperation(
            f"this runtime does not offer the {what} {', '.join(missing)}",
            details={"unsupported": missing, "offered": sorted(offered)},
        )


def _display_name(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > limit or not name.isprintable():
        raise InvalidRequest(
            f"display_name must be 1 to {limit} printable characters",
            details={"field": "display_name"},
        )
    return name


def _capability_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(
            "each requested capability needs a name", details={"field": "requested_capabilities"}
        )
    return name


def _check_intent(intent: Intent) -> None:
    match intent:
        case TaskIntent(objective=objective) if not _text(objective):
            raise InvalidRequest("a task intent needs an objective", details={"field": "intent"})
        case RoleIntent(role=role) if not _text(role):
            raise InvalidRequest("a role intent needs a role", details={"field": "intent"})
        case AssistantIntent() | TaskIntent() | RoleIntent():
            _unicode(asdict(intent).values(), "intent")
        case _:
            raise InvalidRequest(
                "intent must be an assistant, task or role intent", details={"field": "intent"}
            )


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _unicode(values: Iterable[object], field: str) -> None:
    """Refuse lone surrogates: a JSON escape can carry one, and no file can hold it."""
    for value in values:
        if isinstance(value, str) and not is_unicode(value):
            raise InvalidRequest(
                f"{field} holds a lone surrogate, which is not Unicode text",
                details={"field": field},
            )


def is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
