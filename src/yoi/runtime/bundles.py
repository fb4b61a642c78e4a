"""Config bundles: a workspace's profiles, named by the SHA-256 of their canonical encoding.

A bundle carries profile definitions (prompt text, tool policy, non-secret
model preferences), where it came from and its revision (ARCHITECTURE §4.5).
It never holds secret values, local paths or endpoints: secrets are named by
reference (``api_key_env = "OPENAI_API_KEY"``), never by value, and anything
that looks otherwise is refused with ``invalid_request``.

The canonical encoding is compact JSON with sorted keys, UTF-8, no NaN, with
profiles keyed by name and tool lists sorted; two bundles that mean the same
encode to the same bytes, so the digest names the meaning, not the spelling.
Permission rules are the exception to sorting: their order decides, so it is
kept, each rule in its canonical text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from yoi.engine.permissions import Rules
from yoi.errors import ConfigBundleDigestMismatch, InvalidProfile, InvalidRequest
from yoi.runtime.profiles import ModelPreferences, Profile, WorkspaceAccess
from yoi.runtime.secrets import refuse_leaks
from yoi.tools.scope import Capability

__all__ = [
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "BundleProfile",
    "BundleSummary",
    "ConfigBundle",
    "check_digest",
]

BUNDLE_FORMAT = "yoi.config-bundle/1"
MAX_BUNDLE_BYTES = 1024 * 1024
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_MODEL_REF = re.compile(r"[a-z][a-z0-9_-]*:[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
_BUNDLE_KEYS = {"format", "revision", "provenance", "profiles"}
_PROFILE_KEYS = {
    "prompt",
    "tools",
    "model",
    "max_turns",
    "max_output_tokens",
    "description",
    "grant",
    "workspace",
    "report",
    "permissions",
}
_REPORTS = ("submit_report", "submit_review", "submit_intent")


def check_digest(digest: object) -> str:
    """A config bundle digest: 64 lowercase hex digits of SHA-256, safe to name a file."""
    if not isinstance(digest, str) or _DIGEST.fullmatch(digest) is None:
        raise InvalidRequest(
            "a config bundle digest is 64 lowercase hex digits", details={"field": "digest"}
        )
    return digest


@dataclass(frozen=True, slots=True)
class BundleProfile:
    """One profile of a bundle, resolved by ``named:<name>``."""

    name: str
    prompt: str
    tools: tuple[str, ...] = ()
    model: str | None = None
    """A non-secret model reference such as ``openai:gpt-4o-mini``: a preference only."""
    max_turns: int = 24
    max_output_tokens: int | None = None
    description: str | None = None
    grant: frozenset[Capability] = frozenset()
    workspace: WorkspaceAccess = WorkspaceAccess.NONE
    report: str | None = None
    permissions: Rules = field(default_factory=Rules)
    """Kept in their order, which decides: the first rule that matches a call wins."""

    def to_profile(self, digest: str) -> Profile:
        preferences = ModelPreferences(self.model, self.max_turns, self.max_output_tokens)
        label = f"bundle:{digest[:12]}/{self.name}"
        return Profile(
            self.name,
            label,
            frozenset(self.tools),
            preferences,
            text=self.prompt,
            description=self.description,
            grant=self.grant,
            workspace=self.workspace,
            report=self.report,
            rules=self.permissions,
        )

    def to_dict(self) -> dict[str, object]:
        found: dict[str, object] = {
            "prompt": self.prompt,
            "tools": sorted(set(self.tools)),
            "model": self.model,
            "max_turns": self.max_turns,
            "max_output_tokens": self.max_output_tokens,
            "description": self.description,
        }
        # Written only when set, so a bundle without tool policy keeps its digest.
        if self.grant:
            found["grant"] = sorted(bit.value for bit in self.grant)
        if self.workspace is not WorkspaceAccess.NONE:
            found["workspace"] = self.workspace.value
        if self.report is not None:
            found["report"] = self.report
        if self.permissions.rules:
            found["permissions"] = self.permissions.lines()
        return found


@dataclass(frozen=True, slots=True)
class BundleSummary:
    """What a listing says about a bundle, without its prompt texts."""

    digest: str
    revision: str
    provenance: Mapping[str, str]
    profiles: tuple[str, ...]
    size: int

    def to_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "revision": self.revision,
            "provenance": dict(self.provenance),
            "profiles": list(self.profiles),
            "size": self.size,
        }


@dataclass(frozen=True, slots=True)
class ConfigBundle:
    """Profiles for a workspace. Build one with :meth:`from_mapping` or :meth:`decode`."""

    revision: str
    profiles: tuple[BundleProfile, ...]
    provenance: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ConfigBundle:
        """Validate a bundle's JSON object; anything unexpected is ``invalid_request``."""
        if not isinstance(raw, Mapping):
            raise InvalidRequest("a config bundle is a JSON object", details={"field": "bundle"})
        _only(raw, _BUNDLE_KEYS, "bundle")
        if raw.get("format", BUNDLE_FORMAT) != BUNDLE_FORMAT:
            raise InvalidRequest(
                f"unknown config bundle format; this runtime reads {BUNDLE_FORMAT}",
                details={"field": "format"},
            )
        profiles = raw.get("profiles")
        if not isinstance(profiles, Mapping) or not profiles:
            raise InvalidRequest(
                "a config bundle needs at least one profile", details={"field": "profiles"}
            )
        bundle = cls(
            revision=_text(raw.get("revision"), "revision", limit=200),
            profiles=tuple(_profile(name, body) for name, body in sorted(profiles.items())),
            provenance=MappingProxyType(_provenance(raw.get("provenance", {}))),
        )
        refuse_leaks(bundle.to_dict())
        return bundle

    @classmethod
    def decode(cls, content: bytes) -> ConfigBundle:
        """Read a bundle from JSON bytes (canonical or not)."""
        if len(content) > MAX_BUNDLE_BYTES:
            raise InvalidRequest(
                f"a config bundle is at most {MAX_BUNDLE_BYTES} bytes", details={"field": "bundle"}
            )
        try:
            raw = json.loads(content, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidRequest(
                "a config bundle is UTF-8 JSON", details={"field": "bundle"}
            ) from error
        return cls.from_mapping(raw)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": BUNDLE_FORMAT,
            "revision": self.revision,
            "provenance": dict(self.provenance),
            "profiles": {profile.name: profile.to_dict() for profile in self.profiles},
        }

    def encode(self) -> bytes:
        """The canonical encoding, the bytes the digest is taken of."""
        text = json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.encode()).hexdigest()

    def check(self, digest: str) -> None:
        """Raise ``config_bundle_digest_mismatch`` unless ``digest`` names this bundle."""
        actual = self.digest
        if check_digest(digest) != actual:
            raise ConfigBundleDigestMismatch(
                "the digest does not match the bundle's canonical encoding",
                details={"digest": digest, "actual": actual},
            )

    def summary(self) -> BundleSummary:
        names = tuple(profile.name for profile in self.profiles)
        return BundleSummary(self.digest, self.revision, self.provenance, names, len(self.encode()))

    def profile(self, name: str) -> Profile:
        """The profile ``named:<name>`` resolves to in this bundle."""
        for profile in self.profiles:
            if profile.name == name:
                return profile.to_profile(self.digest)
        raise InvalidProfile(
            f"the config bundle has no profile {name!r}",
            details={"profile": f"named:{name}", "profiles": [p.name for p in self.profiles]},
        )


def _profile(name: object, body: object) -> BundleProfile:
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InvalidRequest(
            "a profile name is 1 to 64 of a-z, 0-9, '.', '_' and '-'",
            details={"field": "profiles"},
        )
    if not isinstance(body, Mapping):
        raise InvalidRequest(f"profile {name} is a JSON object", details={"field": "profiles"})
    where = f"profiles.{name}"
    _only(body, _PROFILE_KEYS, where)
    tools = body.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        raise InvalidRequest(f"{where}.tools is a list of tool names", details={"field": where})
    return BundleProfile(
        name=name,
        prompt=_text(body.get("prompt"), f"{where}.prompt", limit=MAX_BUNDLE_BYTES),
        tools=tuple(sorted(set(tools))),
        model=_model(body.get("model"), f"{where}.model"),
        max_turns=_count(body.get("max_turns", 24), f"{where}.max_turns", maximum=1000),
        max_output_tokens=_optional_count(body.get("max_output_tokens"), where),
        description=_optional_text(body.get("description"), f"{where}.description"),
        grant=_grant(body.get("grant", []), f"{where}.grant"),
        workspace=_workspace(body.get("workspace", "none"), f"{where}.workspace"),
        report=_report(body.get("report"), f"{where}.report"),
        permissions=_permissions(body.get("permissions", []), f"{where}.permissions"),
    )


def _permissions(value: object, where: str) -> Rules:
    if not isinstance(value, list):
        raise InvalidRequest(
            f'{where} is a list of rules such as bash: "git push*" -> deny',
            details={"field": where},
        )
    try:
        return Rules.parse(value)
    except InvalidRequest as error:
        raise InvalidRequest(f"{where}: {error.message}", details={"field": where}) from None


def _grant(value: object, where: str) -> frozenset[Capability]:
    known = [bit.value for bit in Capability]
    if not isinstance(value, list) or not all(isinstance(v, str) and v in known for v in value):
        raise InvalidRequest(
            f"{where} is a list of capabilities ({', '.join(known)})", details={"field": where}
        )
    return frozenset(Capability(name) for name in value)


def _workspace(value: object, where: str) -> WorkspaceAccess:
    try:
        return WorkspaceAccess(value if isinstance(value, str) else "")
    except ValueError:
        known = ", ".join(access.value for access in WorkspaceAccess)
        raise InvalidRequest(f"{where} is one of {known}", details={"field": where}) from None


def _report(value: object, where: str) -> str | None:
    if value is not None and value not in _REPORTS:
        raise InvalidRequest(f"{where} is one of {', '.join(_REPORTS)}", details={"field": where})
    return value if isinstance(value, str) else None


def _provenance(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping) or len(raw) > 32:
        raise InvalidRequest(
            "provenance is an object of at most 32 strings", details={"field": "provenance"}
        )
    found: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or _NAME.fullmatch(key) is None:
            raise InvalidRequest(
                "provenance keys are short lowercase names", details={"field": "provenance"}
            )
        found[key] = _text(value, f"provenance.{key}", limit=500)
    return found


def _only(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in allowed)
    if unknown:
        raise InvalidRequest(
            f"{where} has unknown fields: {', '.join(unknown)}",
            details={"field": where, "unknown": unknown},
        )


def _text(value: object, where: str, *, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(
            f"{where} is a non-empty string of at most {limit} characters",
            details={"field": where},
        )
    return value


def _optional_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where, limit=2000)


def _model(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or _MODEL_REF.fullmatch(value) is None or "//" in value:
        raise InvalidRequest(
            f"{where} is a model reference such as openai:gpt-4o-mini, never an endpoint",
            details={"field": where},
        )
    return value


def _count(value: object, where: str, *, maximum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise InvalidRequest(
            f"{where} is a whole number from 1 to {maximum}", details={"field": where}
        )
    return value


def _optional_count(value: object, where: str) -> int | None:
    if value is None:
        return None
    return _count(value, f"{where}.max_output_tokens", maximum=1_000_000)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
