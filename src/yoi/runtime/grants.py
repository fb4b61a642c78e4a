"""A worker's grant: its profile's capability bits, narrowed by its create request and by
what the runtime's host offers.

Narrowing is the only direction: a create request that asks for a bit its profile does not
grant is refused (``invalid_request``) rather than quietly trimmed, so a caller never believes
a worker holds more than it does. The host's limits are applied last and silently: a runtime
without a sandbox simply has no ``command``, and its summary says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from yoi.errors import InvalidRequest, ScopeError
from yoi.runtime.requests import GrantRequest
from yoi.tools.scope import Capability, Grant, normalise

__all__ = ["MAX_GRANT_PATHS", "grant_dict", "narrow", "read_grant"]

MAX_GRANT_PATHS = 32


def narrow(
    profile: frozenset[Capability], request: GrantRequest | None, host: frozenset[Capability]
) -> Grant:
    """The grant a new worker holds: ``profile`` ∩ the request's bits ∩ ``host``."""
    if request is None:
        return Grant(profile & host)
    asked = profile if request.capabilities is None else _capabilities(request.capabilities)
    wider = sorted(bit.value for bit in asked - profile)
    if wider:
        raise InvalidRequest(
            f"a grant narrows its profile's, never widens it: the profile does not grant "
            f"{', '.join(wider)}",
            details={"field": "grant", "not_granted": wider},
        )
    return Grant(asked & host, _paths(request.paths))


def grant_dict(grant: Grant) -> dict[str, object]:
    """The grant as it is shown and stored: sorted bits, paths in the order given."""
    return {
        "capabilities": sorted(bit.value for bit in grant.capabilities),
        "paths": list(grant.paths),
    }


def read_grant(raw: Mapping[str, object]) -> Grant:
    """A grant from :func:`grant_dict`'s form (a stored record, a wire body)."""
    bits, paths = raw.get("capabilities"), raw.get("paths", [])
    if not isinstance(bits, list) or not isinstance(paths, list):
        raise InvalidRequest("a grant holds lists of capabilities and paths")
    return Grant(_capabilities(bits), _paths(paths))


def _capabilities(names: Iterable[object]) -> frozenset[Capability]:
    found: set[Capability] = set()
    for name in names:
        try:
            found.add(Capability(str(name)) if isinstance(name, str) else Capability(""))
        except ValueError:
            known = ", ".join(bit.value for bit in Capability)
            raise InvalidRequest(
                f"{name!r} is not a capability; the capabilities are {known}",
                details={"field": "grant"},
            ) from None
    return frozenset(found)


def _paths(paths: Iterable[object]) -> tuple[str, ...]:
    listed = list(paths)
    if len(listed) > MAX_GRANT_PATHS:
        raise InvalidRequest(
            f"a grant names at most {MAX_GRANT_PATHS} paths", details={"field": "grant"}
        )
    normal: list[str] = []
    for path in listed:
        if not isinstance(path, str):
            raise InvalidRequest("grant paths are text", details={"field": "grant"})
        try:
            text = str(normalise(path))
        except ScopeError as error:
            raise InvalidRequest(
                f"grant path refused: {error.message}", details={"field": "grant"}
            ) from None
        if text not in normal:
            normal.append(text)
    return tuple(normal)
