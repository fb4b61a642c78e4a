"""Permission rules in profiles and config bundles: kept in order, canonical, refused when bad."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.backend.profiles import workspace_bundle
from yoi.engine import Action, PermissionRule, Rules
from yoi.errors import InvalidRequest
from yoi.runtime import BUILTIN_PROFILES, ConfigBundle
from yoi.workspace import Workspace

RULES = st.builds(
    PermissionRule,
    st.sampled_from(["bash", "write_file", "git_*", "*"]),
    st.none() | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20),
    st.sampled_from(Action),
)


def bundle(permissions: object) -> ConfigBundle:
    profile: dict[str, Any] = {"prompt": "p", "permissions": permissions}
    return ConfigBundle.from_mapping({"revision": "r", "profiles": {"guarded": profile}})


@given(rules=st.lists(RULES, max_size=5))
def test_rules_keep_their_order_through_the_canonical_encoding(rules: list[PermissionRule]) -> None:
    made = bundle([str(rule) for rule in rules])
    again = ConfigBundle.decode(made.encode())
    assert again == made
    assert again.profile("guarded").rules == Rules(tuple(rules))


def test_the_same_rules_spelled_differently_have_one_digest_and_order_matters() -> None:
    spaced = bundle(['  bash :  "git push*"->deny', "bash->allow"])
    plain = bundle(['bash: "git push*" -> deny', "bash -> allow"])
    assert spaced.digest == plain.digest
    assert plain.to_dict()["profiles"]["guarded"]["permissions"] == [  # type: ignore[index]
        'bash: "git push*" -> deny',
        "bash -> allow",
    ]
    assert bundle(["bash -> allow", 'bash: "git push*" -> deny']).digest != plain.digest


def test_a_profile_without_rules_keeps_the_digest_it_had_before_rules_existed() -> None:
    assert (
        bundle([]).digest
        == ConfigBundle.from_mapping(
            {"revision": "r", "profiles": {"guarded": {"prompt": "p"}}}
        ).digest
    )
    assert "permissions" not in bundle([]).encode().decode()


@pytest.mark.parametrize("permissions", ["bash -> deny", ["bash -> nope"], [3], {"a": 1}])
def test_bad_rules_are_refused_naming_the_profile(permissions: object) -> None:
    with pytest.raises(InvalidRequest) as raised:
        bundle(permissions)
    assert raised.value.details == {"field": "profiles.guarded.permissions"}


def test_the_builtin_coder_may_not_push_or_throw_work_away() -> None:
    coder = next(profile for profile in BUILTIN_PROFILES if profile.name == "coder")
    assert coder.rules.decide("bash", {"command": "git push origin HEAD"}) is Action.DENY
    assert coder.rules.decide("bash", {"command": "make && git push"}) is Action.DENY
    assert coder.rules.decide("bash", {"command": "git reset --hard HEAD~1"}) is Action.DENY
    assert coder.rules.decide("bash", {"command": "pytest -q"}) is Action.ALLOW


def test_the_workspace_bundle_carries_the_builtin_rules_and_a_files_permissions(
    tmp_path: Path,
) -> None:
    workspace = Workspace(tmp_path)
    workspace.profiles.mkdir(parents=True)
    text = "+++\npermissions = ['bash: \"npm publish*\" -> ask', 'bash -> allow']\n+++\nHi.\n"
    (workspace.profiles / "publisher.md").write_text(text, encoding="utf-8")
    made = workspace_bundle(workspace)
    coder = next(profile for profile in BUILTIN_PROFILES if profile.name == "coder")
    assert made.profile("coder").rules == coder.rules
    assert made.profile("publisher").rules.lines() == [
        'bash: "npm publish*" -> ask',
        "bash -> allow",
    ]
