"""Which model answers: an explicit reference, the workspace config, credentials, or offline.

ARCHITECTURE §7: ``--model provider:model`` wins, then ``[model] default`` in
``.yoi/config.toml``, then the first provider whose credentials are in the
environment, else the offline scripted model. ``demo:playbook`` (the orchestrator demo's
deterministic model, :mod:`yoi.providers.demo`) answers only when named.
:func:`select_model` decides without side effects; :func:`build_model` makes the model,
importing a vendor module only then. Keys are read from the environment at build time and
are never held in, or shown by, anything here: messages name the variable only.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from yoi.engine.model import Model
from yoi.errors import InvalidRequest, ModelUnavailable
from yoi.providers.demo import DEMO_REFERENCE, DemoModel
from yoi.providers.scripted import OfflineModel

__all__ = [
    "DEFAULT_MODELS",
    "OFFLINE_REFERENCE",
    "PROVIDERS",
    "ROLES",
    "ModelChoice",
    "ModelSettings",
    "ProviderSettings",
    "aclose_model",
    "build_model",
    "parse_reference",
    "select_model",
    "select_role_models",
]

Vendor = Literal["openai", "anthropic"]
Provider = Literal["openai", "anthropic", "scripted", "demo"]
Source = Literal["explicit", "config", "credentials", "fallback"]

PROVIDERS: tuple[Provider, ...] = ("openai", "anthropic", "scripted", "demo")
OFFLINE_REFERENCE = "scripted:offline"
_BY_NAME: Mapping[str, Provider] = {name: name for name in PROVIDERS}
DEFAULT_MODELS: Mapping[str, str] = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}
"""The model used when a provider is picked only because its key is present."""

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_BASE_URL_ENV = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
_EXTRAS = {"openai": "openai", "anthropic": "anthropic"}
ROLES = ("orchestrator", "coder", "reviewer")
"""The roles ``[roles.<role>] model`` may give a model of their own (the orchestrator's)."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """Where one provider is reached and which environment variable holds its key."""

    base_url: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """The model part of ``.yoi/config.toml``. It holds no secrets, only names of variables."""

    default: str | None = None
    openai: ProviderSettings = field(default_factory=ProviderSettings)
    anthropic: ProviderSettings = field(default_factory=ProviderSettings)
    roles: Mapping[str, str] = field(default_factory=dict)
    """The reference of each role that has a model of its own, in the order of :data:`ROLES`."""

    @classmethod
    def from_toml(cls, path: Path) -> ModelSettings:
        """Read ``path``; a missing file gives the defaults, a malformed one ``invalid_request``."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as err:
            raise InvalidRequest(f"cannot read {path}: {err.strerror}") from err
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise InvalidRequest(f"{path} is not valid TOML: {err}") from err
        return _Reader(path).settings(document)

    def provider(self, name: Vendor) -> ProviderSettings:
        return self.anthropic if name == "anthropic" else self.openai


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The outcome of model selection: what to build, never a credential."""

    provider: Provider
    model: str
    source: Source
    base_url: str | None = None
    api_key_env: str | None = None

    @property
    def reference(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def offline(self) -> bool:
        """Whether the offline scripted model answers (it says so in every reply)."""
        return self.provider == "scripted"

    @property
    def demo(self) -> bool:
        """Whether the demo playbook model answers: it plays the orchestrator's roles from
        ticket text only, so wherever it is named it is named as a demo."""
        return self.provider == "demo"


def parse_reference(reference: str) -> tuple[Provider, str]:
    """Split ``provider:model``; anything malformed or unknown is ``model_unavailable``."""
    provider, colon, model = reference.strip().partition(":")
    if not colon or not provider or not model.strip():
        raise ModelUnavailable(
            f"model reference {reference!r} is not of the form provider:model "
            "(for example openai:gpt-4o-mini)",
            details={"model": reference},
        )
    known = _BY_NAME.get(provider)
    if known is None:
        raise ModelUnavailable(
            f"unknown model provider {provider!r}; known providers: {', '.join(PROVIDERS)}",
            details={"model": reference, "providers": list(PROVIDERS)},
        )
    if known == "scripted" and model.strip() != "offline":
        raise ModelUnavailable(
            f"the only scripted model that can be chosen by name is {OFFLINE_REFERENCE}",
            details={"model": reference},
        )
    if known == "demo" and model.strip() != "playbook":
        raise ModelUnavailable(
            f"the only demo model is {DEMO_REFERENCE}", details={"model": reference}
        )
    return known, model.strip()


def select_model(
    explicit: str | None, settings: ModelSettings, env: Mapping[str, str]
) -> ModelChoice:
    """Decide which model answers, from an explicit reference, config and the environment."""
    if explicit is not None:
        return _choice(*parse_reference(explicit), "explicit", settings, env)
    if settings.default is not None:
        return _choice(*parse_reference(settings.default), "config", settings, env)
    vendors: tuple[Vendor, ...] = ("openai", "anthropic")
    for provider in vendors:
        if env.get(_key_env(provider, settings)):
            return _choice(provider, DEFAULT_MODELS[provider], "credentials", settings, env)
    return ModelChoice("scripted", "offline", "fallback")


def select_role_models(settings: ModelSettings, env: Mapping[str, str]) -> dict[str, ModelChoice]:
    """The model of each role that has its own, reached as the default model would be (the
    provider's key variable and endpoint); a role left out answers on the default model, so an
    explicit ``--model`` changes only the default."""
    return {
        role: _choice(*parse_reference(reference), "config", settings, env)
        for role, reference in settings.roles.items()
    }


def build_model(choice: ModelChoice, env: Mapping[str, str]) -> Model:
    """Make the chosen model, reading its key from ``env`` now.

    A missing SDK or key is ``model_unavailable``, naming the extra to install
    or the variable to set, never a key's value.
    """
    if choice.provider == "scripted":
        return OfflineModel()
    if choice.provider == "demo":
        return DemoModel()
    key_env = choice.api_key_env or _KEY_ENV[choice.provider]
    api_key = env.get(key_env)
    if not api_key:
        raise ModelUnavailable(
            f"{choice.reference} needs an API key in the environment variable {key_env} "
            "(a local server that checks no key accepts any value)",
            details={"model": choice.reference, "env": key_env},
        )
    if choice.provider == "anthropic":
        return _anthropic(choice, api_key)
    return _openai(choice, api_key)


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


async def aclose_model(model: Model) -> None:
    """Release what a built model holds open (an HTTP client), if anything."""
    if isinstance(model, _Closable):
        await model.aclose()


def _choice(
    provider: Provider, model: str, source: Source, settings: ModelSettings, env: Mapping[str, str]
) -> ModelChoice:
    if provider == "scripted" or provider == "demo":
        return ModelChoice(provider, model, source)
    configured = settings.provider(provider)
    base_url = configured.base_url or env.get(_BASE_URL_ENV[provider]) or None
    return ModelChoice(provider, model, source, base_url, _key_env(provider, settings))


def _key_env(provider: Vendor, settings: ModelSettings) -> str:
    return settings.provider(provider).api_key_env or _KEY_ENV[provider]


def _missing_sdk(provider: str, err: ImportError) -> ModelUnavailable:
    return ModelUnavailable(
        f"the {provider} provider needs its SDK: pip install 'yoi[{_EXTRAS[provider]}]' "
        f"({err.name or 'a module'} is missing)",
        details={"provider": provider},
    )


def _openai(choice: ModelChoice, api_key: str) -> Model:
    try:
        from yoi.providers.openai import OpenAIModel
    except ImportError as err:
        raise _missing_sdk("openai", err) from err
    return OpenAIModel(choice.model, api_key=api_key, base_url=choice.base_url)


def _anthropic(choice: ModelChoice, api_key: str) -> Model:
    try:
        from yoi.providers.anthropic import AnthropicModel
    except ImportError as err:
        raise _missing_sdk("anthropic", err) from err
    return AnthropicModel(choice.model, api_key=api_key, base_url=choice.base_url)


class _Reader:
    """Reads the model settings out of a parsed config document, naming file and key on error."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def settings(self, document: Mapping[str, object]) -> ModelSettings:
        model = self._table(document, "model")
        providers = self._table(document, "providers")
        default = self._reference(model, "default", "model.default")
        return ModelSettings(
            default=default,
            openai=self._provider(providers, "openai"),
            anthropic=self._provider(providers, "anthropic"),
            roles=self._roles(self._table(document, "roles")),
        )

    def _roles(self, tables: Mapping[str, object]) -> dict[str, str]:
        unknown = sorted(set(tables) - set(ROLES))
        if unknown:
            raise self._error(
                f"roles.{unknown[0]}", f"is not a role with a model (roles: {', '.join(ROLES)})"
            )
        found: dict[str, str] = {}
        for role in (role for role in ROLES if role in tables):
            table = self._table(tables, role, f"roles.{role}")
            extra = sorted(set(table) - {"model"})
            if extra:
                raise self._error(f"roles.{role}.{extra[0]}", "is not a setting (known: model)")
            reference = self._reference(table, "model", f"roles.{role}.model")
            if reference is not None:
                found[role] = reference
        return found

    def _reference(self, table: Mapping[str, object], key: str, dotted: str) -> str | None:
        reference = self._string(table, key, dotted)
        if reference is not None:
            try:
                parse_reference(reference)
            except ModelUnavailable as err:
                raise self._error(dotted, f"is unusable: {err.message}") from err
        return reference

    def _provider(self, providers: Mapping[str, object], name: Vendor) -> ProviderSettings:
        table = self._table(providers, name, f"providers.{name}")
        if "api_key" in table:
            raise self._error(
                f"providers.{name}.api_key",
                "keys never belong in a config file: put the key in an environment "
                "variable and name that variable with api_key_env",
            )
        key_env = self._string(table, "api_key_env", f"providers.{name}.api_key_env")
        if key_env is not None and not _ENV_NAME.fullmatch(key_env):
            raise self._error(
                f"providers.{name}.api_key_env",
                "must be the name of an environment variable (letters, digits and _)",
            )
        base_url = self._string(table, "base_url", f"providers.{name}.base_url")
        return ProviderSettings(base_url=base_url, api_key_env=key_env)

    def _table(
        self, parent: Mapping[str, object], key: str, dotted: str | None = None
    ) -> Mapping[str, object]:
        value = parent.get(key, {})
        if not isinstance(value, dict):
            raise self._error(dotted or key, "must be a table")
        return value

    def _string(self, table: Mapping[str, object], key: str, dotted: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self._error(dotted, "must be a non-empty string")
        return value.strip()

    def _error(self, key: str, problem: str) -> InvalidRequest:
        return InvalidRequest(
            f"{self._path}: {key} {problem}", details={"file": str(self._path), "key": key}
        )
