import pytest

from yoi.errors import InvalidProfile
from yoi.runtime import BUILTIN_PROFILES, ProfileCatalog, RoleIntent
from yoi.runtime.profiles import load_prompt, system_prompt


def test_the_builtin_profiles_are_the_six_of_the_contract() -> None:
    names = {profile.name for profile in BUILTIN_PROFILES}
    assert names == {"default", "companion", "coder", "reviewer", "orchestrator", "intake"}


@pytest.mark.parametrize("profile", BUILTIN_PROFILES, ids=lambda p: p.name)
def test_each_prompt_is_a_shipped_markdown_resource(profile: object) -> None:
    from yoi.runtime import Profile

    assert isinstance(profile, Profile)
    assert profile.prompt.endswith(".md")
    assert len(load_prompt(profile.prompt).split()) > 20
    assert profile.tool_grants == frozenset()


def test_references_resolve_or_are_refused() -> None:
    catalog = ProfileCatalog()
    assert catalog.resolve("runtime_default").name == "default"
    assert catalog.resolve("builtin:reviewer").name == "reviewer"
    for bad in ("builtin:", "named:x", "reviewer", ""):
        with pytest.raises(InvalidProfile):
            catalog.resolve(bad)


def test_a_role_intent_is_part_of_the_system_prompt() -> None:
    reviewer = ProfileCatalog().resolve("builtin:reviewer")
    prompt = system_prompt(reviewer, RoleIntent(role="security reviewer", purpose="find leaks"))
    assert prompt.startswith(load_prompt("reviewer.md").strip())
    assert prompt.endswith("Your role: security reviewer\nYour purpose: find leaks")
