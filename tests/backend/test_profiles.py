"""The workspace bundle: builtin profiles, with overrides and additions from ``.yoi/profiles/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from yoi.backend.profiles import workspace_bundle
from yoi.errors import InvalidRequest
from yoi.runtime import BUILTIN_PROFILES, BundleProfile, ConfigBundle
from yoi.workspace import Workspace

SECRET = "sk-proj-abcdefghijklmnop0123456789"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "project")


def add(workspace: Workspace, name: str, text: str) -> Path:
    workspace.profiles.mkdir(parents=True, exist_ok=True)
    path = workspace.profiles / name
    path.write_text(text, encoding="utf-8")
    return path


def profile(bundle: ConfigBundle, name: str) -> BundleProfile:
    (found,) = [p for p in bundle.profiles if p.name == name]
    return found


def refusal(workspace: Workspace) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        workspace_bundle(workspace)
    assert raised.value.code == "invalid_request"
    return raised.value


def test_the_bundle_holds_every_builtin_profile_with_its_prompt(workspace: Workspace) -> None:
    bundle = workspace_bundle(workspace)
    assert {p.name for p in bundle.profiles} == {p.name for p in BUILTIN_PROFILES}
    for builtin in BUILTIN_PROFILES:
        held = profile(bundle, builtin.name)
        assert held.prompt == builtin.prompt_text()
        assert held.prompt.strip()
        assert held.tools == tuple(sorted(builtin.tool_grants))
        assert held.max_turns == builtin.model.max_turns
    assert bundle.provenance == {"source": "workspace", "workspace": "project"}


def test_a_markdown_file_adds_a_profile(workspace: Workspace) -> None:
    add(workspace, "triage.md", "You sort incoming issues.\n\n")
    add(workspace, "notes.txt", "not a profile")
    bundle = workspace_bundle(workspace)
    added = profile(bundle, "triage")
    assert added.prompt == "You sort incoming issues.\n"
    assert added.tools == ()
    assert added.max_turns == 24
    assert "notes" not in {p.name for p in bundle.profiles}
    assert "1 workspace override" in bundle.revision


def test_a_file_named_after_a_builtin_replaces_it(workspace: Workspace) -> None:
    add(workspace, "coder.md", "You write code the workspace way.")
    bundle = workspace_bundle(workspace)
    coder = profile(bundle, "coder")
    assert coder.prompt == "You write code the workspace way.\n"
    assert coder.max_turns == 24  # the builtin's settings went with it
    assert len(bundle.profiles) == len(BUILTIN_PROFILES)


def test_front_matter_sets_the_profile_settings(workspace: Workspace) -> None:
    add(
        workspace,
        "reviewer.md",
        "+++\n"
        'description = "Reviews with an eye for tests"\n'
        'tools = ["run_tests", "read_file"]\n'
        'model = "openai:gpt-4o"\n'
        "max_turns = 40\n"
        "max_output_tokens = 2048\n"
        "+++\n"
        "You review changes.\n+++ not a fence in the prompt\n",
    )
    reviewer = profile(workspace_bundle(workspace), "reviewer")
    assert reviewer == BundleProfile(
        name="reviewer",
        prompt="You review changes.\n+++ not a fence in the prompt\n",
        tools=("read_file", "run_tests"),
        model="openai:gpt-4o",
        max_turns=40,
        max_output_tokens=2048,
        description="Reviews with an eye for tests",
    )


def test_empty_front_matter_is_allowed(workspace: Workspace) -> None:
    add(workspace, "plain.md", "+++\n+++\nJust a prompt.")
    assert profile(workspace_bundle(workspace), "plain").prompt == "Just a prompt.\n"


def test_a_profile_resolves_in_the_bundle_with_its_settings(workspace: Workspace) -> None:
    add(workspace, "helper.md", '+++\ntools = ["read_file"]\nmax_turns = 5\n+++\nHelp.')
    bundle = workspace_bundle(workspace)
    resolved = bundle.profile("helper")
    assert resolved.prompt_text() == "Help.\n"
    assert resolved.tool_grants == frozenset({"read_file"})
    assert resolved.model.max_turns == 5


def test_an_unclosed_settings_block_is_refused(workspace: Workspace) -> None:
    add(workspace, "broken.md", "+++\ntools = []\nYou never close the block.\n")
    error = refusal(workspace)
    assert "profiles/broken.md" in error.message
    assert "not closed" in error.message


def test_settings_that_are_not_toml_are_refused(workspace: Workspace) -> None:
    add(workspace, "broken.md", "+++\ntools = [\n+++\nPrompt.\n")
    error = refusal(workspace)
    assert "profiles/broken.md" in error.message
    assert "not valid TOML" in error.message


def test_an_unknown_setting_is_refused_naming_it(workspace: Workspace) -> None:
    add(workspace, "odd.md", "+++\ntemperature = 0.2\n+++\nPrompt.\n")
    error = refusal(workspace)
    assert error.details == {"file": "profiles/odd.md"}
    assert "temperature" in error.message


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "+++\nmax_turns = 3\n+++\n", "+++\n+++\n  \n"], ids=repr
)
def test_an_empty_prompt_is_refused(workspace: Workspace, text: str) -> None:
    add(workspace, "empty.md", text)
    error = refusal(workspace)
    assert error.details == {"file": "profiles/empty.md"}
    assert "empty" in error.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (f"Use the key {SECRET} when asked.", "profiles.leaky.prompt"),
        (f'+++\ndescription = "key {SECRET}"\n+++\nPrompt.', "profiles.leaky.description"),
        ("Read /home/alice/notes first.", "profiles.leaky.prompt"),
    ],
    ids=["secret in the prompt", "secret in a setting", "local path"],
)
def test_a_secret_looking_value_is_refused_without_echoing_it(
    workspace: Workspace, text: str, field: str
) -> None:
    add(workspace, "leaky.md", text)
    error = refusal(workspace)
    assert field in error.message
    assert SECRET not in error.message
    assert SECRET not in repr(error.details)
    assert "/home/alice" not in error.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('+++\ntools = "read_file"\n+++\nPrompt.', "profiles.bad.tools"),
        ("+++\nmax_turns = 0\n+++\nPrompt.", "profiles.bad.max_turns"),
        ('+++\nmodel = "not a model"\n+++\nPrompt.', "profiles.bad.model"),
    ],
    ids=["tools", "max_turns", "model"],
)
def test_a_bad_setting_value_is_refused_by_the_bundle(
    workspace: Workspace, text: str, field: str
) -> None:
    add(workspace, "bad.md", text)
    error = refusal(workspace)
    assert error.message.startswith("the workspace profiles do not make a valid bundle")
    assert field in error.message


def test_a_bad_profile_name_is_refused(workspace: Workspace) -> None:
    add(workspace, "My Reviewer.md", "Prompt.")
    error = refusal(workspace)
    assert "profile name" in error.message


def test_a_bad_profile_name_is_refused_naming_its_file(workspace: Workspace) -> None:
    add(workspace, "My Reviewer.md", "Prompt.")
    error = refusal(workspace)
    assert "My Reviewer" in error.message


def test_the_digest_is_stable_for_the_same_files(tmp_path: Path) -> None:
    one, two = Workspace(tmp_path / "a" / "project"), Workspace(tmp_path / "b" / "project")
    for workspace in (one, two):
        add(workspace, "triage.md", "+++\nmax_turns = 3\n+++\nSort issues.\n")
        add(workspace, "coder.md", "Write code.\n")
    first = workspace_bundle(one)
    assert workspace_bundle(one).digest == first.digest
    assert workspace_bundle(two).digest == first.digest
    assert len(first.digest) == 64


def test_the_digest_changes_when_a_file_changes(workspace: Workspace) -> None:
    builtin_only = workspace_bundle(workspace).digest
    path = add(workspace, "triage.md", "Sort issues.\n")
    added = workspace_bundle(workspace).digest
    path.write_text("Sort issues by urgency.\n", encoding="utf-8")
    edited = workspace_bundle(workspace).digest
    path.write_text("+++\nmax_turns = 3\n+++\nSort issues by urgency.\n", encoding="utf-8")
    resettled = workspace_bundle(workspace).digest
    assert len({builtin_only, added, edited, resettled}) == 4
    path.unlink()
    assert workspace_bundle(workspace).digest == builtin_only


def test_every_builtin_profile_says_what_it_is_for(workspace: Workspace) -> None:
    bundle = workspace_bundle(workspace)
    names = {"companion", "coder", "reviewer", "orchestrator", "intake", "default"}
    assert {p.name for p in BUILTIN_PROFILES} == names
    for name in names:
        described = profile(bundle, name).description
        assert described
        assert described.strip() == described
        assert len(described) <= 120
