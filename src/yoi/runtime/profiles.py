"""Worker profiles: a prompt resource, tool grants and model preferences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources

from yoi.engine.permissions import Rules
from yoi.errors import InvalidProfile
from yoi.runtime.requests import AssistantIntent, Intent, RoleIntent, TaskIntent
from yoi.tools.scope import Capability

__all__ = [
    "BUILTIN_PROFILES",
    "ModelPreferences",
    "Profile",
    "ProfileCatalog",
    "WorkspaceAccess",
    "load_prompt",
    "system_prompt",
]


@dataclass(frozen=True, slots=True)
class ModelPreferences:
    """What a profile would like of its model; the runtime's model selection has the last word."""

    model: str | None = None
    max_turns: int = 24
    max_output_tokens: int | None = None


class WorkspaceAccess(StrEnum):
    """Which of the runtime's workspace (ticket) tools a profile's workers get."""

    NONE = "none"
    READ = "read"
    """The tools that only read tickets."""
    WRITE = "write"
    """All of them: reading, creating and commenting (none of them queues)."""


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    prompt: str
    """The name of a Markdown prompt resource shipped in ``yoi/runtime/prompts``,
    or a label when ``text`` holds the prompt itself (a config bundle's profile)."""
    tool_grants: frozenset[str] = frozenset()
    model: ModelPreferences = field(default_factory=ModelPreferences)
    text: str | None = None
    description: str | None = None
    """One line for people choosing a profile."""
    grant: frozenset[Capability] = frozenset()
    """The capability bits its workers hold on their workdir (a request may narrow them)."""
    workspace: WorkspaceAccess = WorkspaceAccess.NONE
    """Which of the runtime's workspace tools (the tickets, in-process) its workers get."""
    report: str | None = None
    """The report tool its workers finish with: ``submit_report``, ``submit_review`` or
    ``submit_intent``."""
    rules: Rules = field(default_factory=Rules)
    """Its permission rules, in order: which tool calls are allowed, denied or asked about."""

    def prompt_text(self) -> str:
        return self.text if self.text is not None else load_prompt(self.prompt)


BUILTIN_PROFILES: tuple[Profile, ...] = (
    Profile(
        "default",
        "default.md",
        description="A general assistant: answers questions, uses tools only when they help.",
    ),
    Profile(
        "companion",
        "companion.md",
        description="The workspace's Companion: shapes ideas into tickets, explains the workers.",
        workspace=WorkspaceAccess.WRITE,
    ),
    Profile(
        "coder",
        "coder.md",
        model=ModelPreferences(max_turns=60),
        description="Carries out one ticket in its own worktree, with tests, and reports back.",
        grant=frozenset(Capability) - {Capability.NETWORK},
        report="submit_report",
        # Work leaves through the orchestrator's merge, never straight from a worktree.
        rules=Rules.parse(
            [
                'bash: "*git push*" -> deny',
                'bash: "*git reset --hard*" -> deny',
                'bash: "*git checkout -- *" -> deny',
            ]
        ),
    ),
    Profile(
        "reviewer",
        "reviewer.md",
        model=ModelPreferences(max_turns=40),
        description="Reviews a coder's change against its ticket: approve or request changes.",
        grant=frozenset({Capability.READ, Capability.GLOB, Capability.GREP}),
        report="submit_review",
    ),
    Profile(
        "orchestrator",
        "orchestrator.md",
        description="Accepts a queued ticket for the orchestrator: writes its intent, or says "
        "why it is not ready.",
        workspace=WorkspaceAccess.READ,
        report="submit_intent",
    ),
    Profile(
        "intake",
        "intake.md",
        description="Turns people's requests into well-formed tickets; never queues them.",
    ),
)


def load_prompt(name: str) -> str:
    return (resources.files("yoi.runtime") / "prompts" / name).read_text(encoding="utf-8")


class ProfileCatalog:
    """Resolves a profile reference: ``runtime_default``, ``builtin:<name>`` or ``named:<name>``."""

    def __init__(self, profiles: Iterable[Profile] = BUILTIN_PROFILES, *, default: str = "default"):
        self._profiles: Mapping[str, Profile] = {profile.name: profile for profile in profiles}
        if default not in self._profiles:
            raise ValueError(f"the default profile {default!r} is not in the catalog")
        self._default = default

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._profiles)

    def resolve(self, reference: str) -> Profile:
        if reference == "runtime_default":
            return self._profiles[self._default]
        kind, _, name = reference.partition(":")
        if kind == "builtin" and name in self._profiles:
            return self._profiles[name]
        if kind == "builtin":
            raise InvalidProfile(
                f"there is no builtin profile {name!r}",
                details={"profile": reference, "builtin": list(self._profiles)},
            )
        if kind == "named":
            raise InvalidProfile(
                "a named profile is resolved in a config bundle: name one with config_bundle",
                details={"profile": reference},
            )
        raise InvalidProfile(
            "a profile is runtime_default, builtin:<name> or named:<name>",
            details={"profile": reference},
        )


def system_prompt(profile: Profile, intent: Intent) -> str:
    base = profile.prompt_text().strip()
    match intent:
        case AssistantIntent(purpose=None):
            return base
        case AssistantIntent(purpose=purpose):
            return f"{base}\n\nYour purpose: {purpose}"
        case TaskIntent(objective=objective):
            return f"{base}\n\nYour task: {objective}"
        case RoleIntent(role=role, purpose=purpose):
            extra = f"\nYour purpose: {purpose}" if purpose else ""
            return f"{base}\n\nYour role: {role}{extra}"
