"""A model per role: ``[roles.<role>] model`` in ``.yoi/config.toml`` and the choices it gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.providers.selection import (
    ROLES,
    ModelChoice,
    ModelSettings,
    ProviderSettings,
    select_model,
    select_role_models,
)

SECRET = "sk-role-secret-456"


def write_config(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_role_tables_are_read_in_role_order(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [model]
        default = "anthropic:claude-sonnet-4-5"

        [roles.reviewer]
        model = "anthropic:claude-opus-4-1"

        [roles.coder]
        model = "openai:gpt-4o"

        [roles.orchestrator]
        """,
    )
    settings = ModelSettings.from_toml(path)
    assert settings.default == "anthropic:claude-sonnet-4-5"
    assert list(settings.roles.items()) == [
        ("coder", "openai:gpt-4o"),
        ("reviewer", "anthropic:claude-opus-4-1"),
    ]


def test_no_role_tables_give_no_role_models(tmp_path: Path) -> None:
    assert ModelSettings.from_toml(write_config(tmp_path, "")).roles == {}
    assert select_role_models(ModelSettings(), {"OPENAI_API_KEY": SECRET}) == {}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("roles = 3", "roles"),
        ('[roles]\ncoder = "openai:gpt-4o"', "roles.coder"),
        ('[roles.intake]\nmodel = "openai:gpt-4o"', "roles.intake"),
        ('[roles.planner]\nmodel = "openai:gpt-4o"', "roles.planner"),
        ('[roles.coder]\nmodle = "openai:gpt-4o"', "roles.coder.modle"),
        (
            '[roles.coder]\nmodel = "openai:gpt-4o"\nprofile = "builtin:coder"',
            "roles.coder.profile",
        ),
        ("[roles.coder]\nmodel = 4", "roles.coder.model"),
        ('[roles.coder]\nmodel = "  "', "roles.coder.model"),
        ('[roles.reviewer]\nmodel = "gpt-4o"', "roles.reviewer.model"),
        ('[roles.reviewer]\nmodel = "mistral:large"', "roles.reviewer.model"),
    ],
)
def test_a_refused_role_table_names_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(InvalidRequest) as caught:
        ModelSettings.from_toml(path)
    assert caught.value.code == "invalid_request"
    assert caught.value.details == {"file": str(path), "key": key}
    assert key in caught.value.message


def test_a_role_choice_is_reached_as_the_default_would_be() -> None:
    settings = ModelSettings(
        openai=ProviderSettings(base_url="http://127.0.0.1:1234/v1", api_key_env="ROUTER_KEY"),
        roles={"coder": "openai:gpt-4o", "reviewer": "anthropic:claude-opus-4-1"},
    )
    env = {"ROUTER_KEY": SECRET, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic"}
    choices = select_role_models(settings, env)
    assert choices == {
        "coder": ModelChoice(
            "openai", "gpt-4o", "config", "http://127.0.0.1:1234/v1", "ROUTER_KEY"
        ),
        "reviewer": ModelChoice(
            "anthropic",
            "claude-opus-4-1",
            "config",
            "http://127.0.0.1:9/anthropic",
            "ANTHROPIC_API_KEY",
        ),
    }
    assert choices["coder"].reference == "openai:gpt-4o"
    assert SECRET not in repr(choices)


def test_an_explicit_model_sets_the_default_only() -> None:
    settings = ModelSettings(default="openai:gpt-4o-mini", roles={"coder": "openai:gpt-4o"})
    assert select_model("anthropic:claude-haiku-4-5", settings, {}).reference == (
        "anthropic:claude-haiku-4-5"
    )
    assert select_role_models(settings, {})["coder"].reference == "openai:gpt-4o"


def test_a_role_may_answer_offline() -> None:
    settings = ModelSettings(roles={"orchestrator": "scripted:offline"})
    assert select_role_models(settings, {"OPENAI_API_KEY": SECRET})["orchestrator"].offline


_MODEL_NAMES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/@",
    min_size=1,
    max_size=30,
)
_REFERENCES = st.builds("{}:{}".format, st.sampled_from(["openai", "anthropic"]), _MODEL_NAMES)


@given(
    roles=st.dictionaries(st.sampled_from(ROLES), _REFERENCES),
    default=st.none() | _REFERENCES,
    base_url=st.none() | st.sampled_from(["http://127.0.0.1:1/v1", "https://example.test/v1"]),
)
def test_role_tables_round_trip_and_leave_their_neighbours_alone(
    tmp_path_factory: pytest.TempPathFactory,
    roles: dict[str, str],
    default: str | None,
    base_url: str | None,
) -> None:
    lines = [] if default is None else ["[model]", f"default = {json.dumps(default)}"]
    if base_url is not None:
        lines += ["[providers.openai]", f"base_url = {json.dumps(base_url)}"]
    for role, reference in roles.items():
        lines += [f"[roles.{role}]", f"model = {json.dumps(reference)}"]
    path = write_config(tmp_path_factory.mktemp("config"), "\n".join(lines) + "\n")
    settings = ModelSettings.from_toml(path)
    assert settings.roles == roles
    assert list(settings.roles) == [role for role in ROLES if role in roles]
    assert settings.default == default
    assert settings.openai == ProviderSettings(base_url=base_url)
    choices = select_role_models(settings, {})
    assert {role: choice.reference for role, choice in choices.items()} == roles
