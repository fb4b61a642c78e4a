"""Model selection: explicit reference, config, credentials, offline; and building the model."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from yoi.errors import InvalidRequest, ModelUnavailable
from yoi.providers.scripted import OfflineModel
from yoi.providers.selection import (
    ModelChoice,
    ModelSettings,
    ProviderSettings,
    aclose_model,
    build_model,
    parse_reference,
    select_model,
)

SECRET = "sk-very-secret-value-123"
NONE = ModelSettings()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- references ----------------------------------------------------------------


def test_a_reference_splits_at_the_first_colon() -> None:
    assert parse_reference("openai:llama3.1:8b") == ("openai", "llama3.1:8b")
    assert parse_reference("anthropic:claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5")
    assert parse_reference("scripted:offline") == ("scripted", "offline")


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("gpt-4o", "provider:model"),
        (":gpt-4o", "provider:model"),
        ("openai:", "provider:model"),
        ("openai:  ", "provider:model"),
        ("mistral:large", "unknown model provider 'mistral'"),
        ("scripted:test", "scripted:offline"),
    ],
)
def test_a_malformed_reference_is_model_unavailable(reference: str, says: str) -> None:
    with pytest.raises(ModelUnavailable, match=says) as caught:
        parse_reference(reference)
    assert caught.value.code == "model_unavailable"


# -- selection -------------------------------------------------------------------


def test_nothing_configured_falls_back_to_the_offline_model() -> None:
    choice = select_model(None, NONE, {})
    assert choice == ModelChoice("scripted", "offline", "fallback")
    assert choice.offline
    assert choice.reference == "scripted:offline"


def test_an_empty_key_is_no_credential() -> None:
    assert select_model(None, NONE, {"OPENAI_API_KEY": ""}).source == "fallback"


def test_the_first_provider_with_a_key_is_chosen_with_its_default_model() -> None:
    both = {"OPENAI_API_KEY": SECRET, "ANTHROPIC_API_KEY": SECRET}
    assert select_model(None, NONE, both).reference == "openai:gpt-4o-mini"
    choice = select_model(None, NONE, {"ANTHROPIC_API_KEY": SECRET})
    assert choice.reference == "anthropic:claude-sonnet-4-5"
    assert choice.source == "credentials"
    assert choice.api_key_env == "ANTHROPIC_API_KEY"


def test_the_config_default_beats_credentials() -> None:
    settings = ModelSettings(default="anthropic:claude-haiku-4-5")
    choice = select_model(None, settings, {"OPENAI_API_KEY": SECRET})
    assert (choice.reference, choice.source) == ("anthropic:claude-haiku-4-5", "config")


def test_an_explicit_reference_beats_the_config() -> None:
    settings = ModelSettings(default="anthropic:claude-haiku-4-5")
    choice = select_model("openai:gpt-test", settings, {})
    assert (choice.reference, choice.source) == ("openai:gpt-test", "explicit")
    assert select_model("scripted:offline", settings, {}).offline


def test_openai_base_url_comes_from_config_then_the_environment() -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}
    assert select_model("openai:llama3", NONE, env).base_url == "http://127.0.0.1:11434/v1"
    settings = ModelSettings(openai=ProviderSettings(base_url="http://vllm.local/v1"))
    assert select_model("openai:llama3", settings, env).base_url == "http://vllm.local/v1"
    assert select_model("openai:gpt-4o", NONE, {}).base_url is None


def test_a_configured_key_variable_counts_as_credentials() -> None:
    settings = ModelSettings(openai=ProviderSettings(api_key_env="ROUTER_KEY"))
    assert select_model(None, settings, {"OPENAI_API_KEY": SECRET}).source == "fallback"
    choice = select_model(None, settings, {"ROUTER_KEY": SECRET})
    assert (choice.reference, choice.api_key_env) == ("openai:gpt-4o-mini", "ROUTER_KEY")


def test_a_choice_never_holds_or_shows_the_key() -> None:
    choice = select_model(None, NONE, {"OPENAI_API_KEY": SECRET})
    assert SECRET not in repr(choice)
    assert SECRET not in [getattr(choice, item.name) for item in fields(choice)]


# -- config files ------------------------------------------------------------------


def test_a_missing_config_file_gives_defaults(tmp_path: Path) -> None:
    assert ModelSettings.from_toml(tmp_path / "absent.toml") == ModelSettings()


def test_a_config_file_is_read(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [backend]
        listen = "127.0.0.1:8765"

        [model]
        default = "openai:gpt-4o-mini"

        [providers.openai]
        base_url = "http://127.0.0.1:1234/v1"
        api_key_env = "MY_KEY"
        """,
    )
    settings = ModelSettings.from_toml(path)
    assert settings == ModelSettings(
        default="openai:gpt-4o-mini",
        openai=ProviderSettings(base_url="http://127.0.0.1:1234/v1", api_key_env="MY_KEY"),
    )
    choice = select_model(None, settings, {})
    assert (choice.base_url, choice.api_key_env) == ("http://127.0.0.1:1234/v1", "MY_KEY")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("model = 3", "model"),
        ("[model]\ndefault = 3", "model.default"),
        ('[model]\ndefault = "gpt-4o"', "model.default"),
        ("providers = []", "providers"),
        ('[providers]\nopenai = "x"', "providers.openai"),
        ("[providers.openai]\nbase_url = 1", "providers.openai.base_url"),
        ('[providers.anthropic]\napi_key_env = ""', "providers.anthropic.api_key_env"),
    ],
)
def test_wrong_types_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(InvalidRequest) as caught:
        ModelSettings.from_toml(path)
    assert str(path) in caught.value.message
    assert caught.value.details == {"file": str(path), "key": key}


def test_malformed_toml_is_invalid_request(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[model\ndefault = ")
    with pytest.raises(InvalidRequest, match="not valid TOML"):
        ModelSettings.from_toml(path)


def test_a_key_in_the_config_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'[providers.openai]\napi_key = "{SECRET}"')
    with pytest.raises(InvalidRequest, match="environment variable") as caught:
        ModelSettings.from_toml(path)
    assert SECRET not in str(caught.value)


def test_a_key_put_where_a_variable_name_belongs_is_not_echoed(tmp_path: Path) -> None:
    path = write_config(tmp_path, f'[providers.openai]\napi_key_env = "{SECRET}"')
    with pytest.raises(InvalidRequest, match="name of an environment variable") as caught:
        ModelSettings.from_toml(path)
    assert SECRET not in str(caught.value)


# -- building ------------------------------------------------------------------------


def test_the_offline_choice_builds_the_offline_model() -> None:
    assert isinstance(build_model(select_model(None, NONE, {}), {}), OfflineModel)


@pytest.mark.parametrize("reference", ["openai:gpt-test", "anthropic:claude-test"])
def test_a_missing_key_names_the_variable(reference: str) -> None:
    settings = ModelSettings(
        openai=ProviderSettings(api_key_env="OPENAI_KEY_FOR_TESTS"),
        anthropic=ProviderSettings(api_key_env="ANTHROPIC_KEY_FOR_TESTS"),
    )
    choice = select_model(reference, settings, {})
    with pytest.raises(ModelUnavailable, match=choice.api_key_env or "?"):
        build_model(choice, {"OPENAI_API_KEY": SECRET, "ANTHROPIC_API_KEY": SECRET})


@pytest.mark.parametrize("reference", ["openai:gpt-test", "anthropic:claude-test"])
async def test_a_vendor_model_is_built_with_the_key_from_env(reference: str) -> None:
    env = {"OPENAI_API_KEY": SECRET, "ANTHROPIC_API_KEY": SECRET}
    model = build_model(select_model(reference, NONE, env), env)
    try:
        assert model.name == reference
        assert SECRET not in repr(model)
    finally:
        await aclose_model(model)


@pytest.mark.parametrize(("provider", "extra"), [("openai", "openai"), ("anthropic", "anthropic")])
def test_a_missing_sdk_says_which_extra_to_install(provider: str, extra: str) -> None:
    # A child interpreter where the vendor SDK cannot be imported, as if never installed.
    script = f"""
import sys
sys.modules[{provider!r}] = None
from yoi.errors import ModelUnavailable
from yoi.providers.selection import ModelSettings, build_model, select_model
env = {{"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}}
try:
    build_model(select_model("{provider}:m", ModelSettings(), env), env)
except ModelUnavailable as error:
    print(error.message)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert f"pip install 'yoi[{extra}]'" in done.stdout
