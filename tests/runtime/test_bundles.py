"""Config bundles without HTTP: canonical encoding, validation, leaks, and persistence."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from yoi.errors import (
    ConfigBundleDigestMismatch,
    ConfigBundleMissing,
    InvalidProfile,
    InvalidRequest,
    WorkerUnavailable,
)
from yoi.providers.script import Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    ConfigBundle,
    ConfigBundleRef,
    CreateWorkerRequest,
    FsStore,
    Runtime,
)
from yoi.runtime.secrets import find_leak
from yoi.testing.observe import run_to_end

PROMPT = "You review pull requests for the Zephyr team. Be brief and kind."
RAW: dict[str, Any] = {
    "format": "yoi.config-bundle/1",
    "revision": "r42",
    "provenance": {"source": "workspace config", "api_key_env": "OPENAI_API_KEY"},
    "profiles": {
        "reviewer": {
            "prompt": PROMPT,
            "tools": ["shell", "read_file"],
            "model": "openai:gpt-4o-mini",
            "max_turns": 5,
        },
        "scribe": {"prompt": "You take notes."},
    },
}


def bundle_of(raw: dict[str, Any] = RAW) -> ConfigBundle:
    return ConfigBundle.from_mapping(raw)


def changed(**changes: Any) -> dict[str, Any]:
    """RAW with top-level fields replaced (``None`` removes one)."""
    raw = copy.deepcopy(RAW)
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return raw


def with_profile(**fields: Any) -> dict[str, Any]:
    """RAW with the reviewer profile's fields replaced."""
    raw = copy.deepcopy(RAW)
    raw["profiles"]["reviewer"].update(fields)
    return raw


# -- canonical encoding and digest ---------------------------------------------------


def test_the_encoding_does_not_depend_on_key_order_tool_order_or_whitespace() -> None:
    reordered = {key: RAW[key] for key in reversed(list(RAW))}
    reordered["profiles"] = {
        "scribe": RAW["profiles"]["scribe"],
        "reviewer": dict(reversed(list(RAW["profiles"]["reviewer"].items()))),
    }
    reordered["profiles"]["reviewer"]["tools"] = ["read_file", "shell", "read_file"]
    spaced = json.dumps(RAW, indent=4).encode()
    encodings = {
        bundle_of().encode(),
        bundle_of(reordered).encode(),
        ConfigBundle.decode(spaced).encode(),
        ConfigBundle.decode(bundle_of().encode()).encode(),
    }
    assert len(encodings) == 1


def test_the_encoding_is_compact_sorted_utf8_json_with_defaults_filled_in() -> None:
    raw = changed(revision="café", format=None, provenance=None)
    encoded = bundle_of(raw).encode()
    assert b"caf\xc3\xa9" in encoded
    decoded = json.loads(encoded)
    canonical = json.dumps(decoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert encoded == canonical.encode()
    assert decoded["format"] == "yoi.config-bundle/1"
    assert decoded["provenance"] == {}
    assert decoded["profiles"]["scribe"] == {
        "description": None,
        "max_output_tokens": None,
        "max_turns": 24,
        "model": None,
        "prompt": "You take notes.",
        "tools": [],
    }
    assert decoded["profiles"]["reviewer"]["tools"] == ["read_file", "shell"]


def test_the_digest_is_the_sha256_of_the_encoding() -> None:
    bundle = bundle_of()
    assert bundle.digest == hashlib.sha256(bundle.encode()).hexdigest()
    assert bundle.summary().digest == bundle.digest
    assert bundle.summary().size == len(bundle.encode())
    bundle.check(bundle.digest)


def test_bundles_that_mean_different_things_have_different_digests() -> None:
    digests = {
        bundle_of().digest,
        bundle_of(changed(revision="r43")).digest,
        bundle_of(with_profile(prompt=PROMPT + "!")).digest,
        bundle_of(with_profile(tools=["shell"])).digest,
        bundle_of(with_profile(max_turns=6)).digest,
    }
    assert len(digests) == 5


def test_a_digest_that_names_another_bundle_is_a_mismatch() -> None:
    other = bundle_of(changed(revision="r43")).digest
    with pytest.raises(ConfigBundleDigestMismatch) as caught:
        bundle_of().check(other)
    assert caught.value.details == {"digest": other, "actual": bundle_of().digest}
    with pytest.raises(InvalidRequest) as malformed:
        bundle_of().check("ABC")
    assert type(malformed.value) is InvalidRequest


def test_a_named_profile_resolves_to_its_prompt_tools_and_preferences() -> None:
    profile = bundle_of().profile("reviewer")
    assert profile.prompt_text() == PROMPT
    assert profile.tool_grants == frozenset({"shell", "read_file"})
    assert profile.model.model == "openai:gpt-4o-mini"
    assert profile.model.max_turns == 5
    with pytest.raises(InvalidProfile):
        bundle_of().profile("ghost")


# -- what from_mapping and decode refuse -----------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        changed(signature="abc"),
        with_profile(endpoint="https://api.example"),
        changed(format="yoi.config-bundle/2"),
        changed(profiles={}),
        changed(profiles=None),
        changed(profiles=["reviewer"]),
        changed(profiles={"x": "a prompt"}),
        changed(revision=None),
        changed(revision="  "),
        changed(revision=42),
        changed(provenance=["a"]),
        changed(provenance={"Source": "x"}),
        changed(provenance={"n": 1}),
        with_profile(prompt=""),
        with_profile(tools="shell"),
        with_profile(tools=[""]),
        with_profile(max_turns=0),
        with_profile(max_turns=True),
        with_profile(max_turns=1001),
        with_profile(max_output_tokens=-5),
    ],
    ids=[
        "unknown-field",
        "unknown-profile-field",
        "format",
        "empty-profiles",
        "no-profiles",
        "profiles-list",
        "profile-not-object",
        "no-revision",
        "blank-revision",
        "revision-number",
        "provenance-list",
        "provenance-key",
        "provenance-value",
        "empty-prompt",
        "tools-string",
        "tool-blank",
        "zero-turns",
        "bool-turns",
        "many-turns",
        "negative-tokens",
    ],
)
def test_a_malformed_bundle_is_an_invalid_request(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bundle_of(raw)
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize(
    "name", ["", "Reviewer", "has space", "-dash", "x" * 65, "ünï", "a/b", "../up"]
)
def test_a_profile_name_is_a_short_lowercase_name(name: str) -> None:
    with pytest.raises(InvalidRequest):
        bundle_of(changed(profiles={name: {"prompt": "x"}}))


@pytest.mark.parametrize(
    "model",
    [
        "https://api.openai.com/v1",
        "http://localhost:11434",
        "openai://gpt-4o",
        "openai:http://proxy/gpt",
        "gpt-4o",
        "OpenAI:gpt-4o",
        "openai:",
        "openai: gpt-4o",
    ],
)
def test_a_model_reference_is_never_an_endpoint(model: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bundle_of(with_profile(model=model))
    assert caught.value.details == {"field": "profiles.reviewer.model"}


@pytest.mark.parametrize(
    "model", ["openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest", "ollama:llama3.1:8b"]
)
def test_a_plain_model_reference_is_kept(model: str) -> None:
    assert bundle_of(with_profile(model=model)).profile("reviewer").model.model == model


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe{}", b'{"revision": NaN}', b"[]", b"x" * (1024 * 1024 + 1)],
    ids=["syntax", "not-utf8", "nan", "array", "too-big"],
)
def test_decode_refuses_what_is_not_a_bundles_json(content: bytes) -> None:
    with pytest.raises(InvalidRequest):
        ConfigBundle.decode(content)


# -- leaks -------------------------------------------------------------------------

LEAKS = [
    ("prompt", "Call it with sk-proj-Abcdefghijklmnop1234567890", "sk-proj-Abcdef"),
    ("prompt", "key: sk-ant-api03-abcdefghijklmnopqrstuv", "sk-ant-api03"),
    ("source", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdef"),
    ("source", "github_pat_11ABCDEFG0123456789_abcdefghijkl", "github_pat_11"),
    ("source", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("prompt", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "BEGIN RSA PRIVATE"),
    ("prompt", "-----BEGIN OPENSSH PRIVATE KEY-----", "OPENSSH PRIVATE"),
    ("source", "xoxb-1234567890-abcdefghij", "xoxb-1234567890"),
    ("source", "AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA12345"),
    ("source", "hf_abcdefghijklmnopqrstuvwxyz0123456", "hf_abcdefgh"),
    ("prompt", "send Authorization: Bearer abcdefghijklmnop0123", "abcdefghijklmnop0123"),
    ("source", "https://alice:hunter2@git.example.com/repo.git", "hunter2"),
    ("source", "postgres://admin:pw123@db.internal/prod", "pw123"),
    ("source", "/home/alice/project", "/home/alice"),
    ("source", "/Users/bob/code", "/Users/bob"),
    ("source", "/srv/checkouts/zephyr", "/srv/checkouts"),
    ("source", "~/work/zephyr", "~/work"),
    ("source", "C:\\Users\\carol\\repo", "carol"),
    ("prompt", "Read the notes in /home/alice/notes.md first.", "/home/alice"),
    ("client_secret", "q8w7e6r5t4y3", "q8w7e6r5t4y3"),
    ("api_key", "not-an-env-name", "not-an-env-name"),
    ("password", "correct horse battery", "correct horse"),
    ("access_token", "tok-123", "tok-123"),
]


def leaking(where: str, value: str) -> dict[str, Any]:
    if where == "prompt":
        return with_profile(prompt=value)
    return changed(provenance={**RAW["provenance"], where: value})


@pytest.mark.parametrize(("where", "value", "secret"), LEAKS, ids=[leak[2] for leak in LEAKS])
def test_a_bundle_that_holds_a_secret_path_or_credential_is_refused_quietly(
    where: str, value: str, secret: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bundle_of(leaking(where, value))
    error = caught.value
    assert type(error) is InvalidRequest
    assert secret not in error.message
    assert secret not in json.dumps(error.to_dict())
    assert error.details["field"] in {"profiles.reviewer.prompt", f"provenance.{where}"}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("provenance", "sk-proj-abcdefghijklmnop1234567890"),
        ("profiles", "ghp_abcdefghijklmnopqrstu"),
    ],
)
def test_a_secret_used_as_a_name_is_refused_too(where: str, value: str) -> None:
    raw = copy.deepcopy(RAW)
    raw[where][value] = {"prompt": "x"} if where == "profiles" else "openai"
    with pytest.raises(InvalidRequest) as caught:
        bundle_of(raw)
    assert value not in json.dumps(caught.value.to_dict())


def test_secrets_named_by_reference_and_ordinary_text_are_accepted() -> None:
    raw = changed(
        provenance={
            "api_key_env": "OPENAI_API_KEY",
            "token_ref": "vault:ci/openai",
            "secret_name": "prod-openai",
            "repository": "github.com/zephyr/app",
            "commit": "3f9a0c1",
            "config": "config.toml",
        }
    )
    raw["profiles"]["reviewer"]["prompt"] = (
        "Read src/app.py and the /v1/workers route. The key comes from OPENAI_API_KEY; "
        "never ask for it. Risk-free task-based reviews; ask-first."
    )
    assert find_leak(raw) is None
    assert bundle_of(raw).provenance["api_key_env"] == "OPENAI_API_KEY"


# -- in a runtime, across restarts ------------------------------------------------------


def reviewer_request(digest: str, worker_id: str = "rev") -> CreateWorkerRequest:
    return CreateWorkerRequest(
        worker_id=worker_id, profile="named:scribe", config_bundle=ConfigBundleRef(digest)
    )


async def test_a_bundle_and_a_worker_made_from_it_survive_a_restart(tmp_path: Path) -> None:
    bundle = bundle_of()
    async with Runtime(store=FsStore(tmp_path), model=ScriptedModel([])) as runtime:
        summary = await runtime.put_config_bundle(bundle.digest, bundle)
        again = await runtime.put_config_bundle(bundle.digest, bundle_of())
        created = await runtime.create_worker(reviewer_request(bundle.digest))
    stored = tmp_path / "bundles" / f"{bundle.digest}.json"
    assert stored.read_bytes() == bundle.encode()
    assert again == summary
    model = ScriptedModel([[Text("noted")]])
    async with Runtime(store=FsStore(tmp_path), model=model) as runtime:
        listed = await runtime.config_bundles()
        kept = await runtime.config_bundle(bundle.digest)
        restored = await runtime.get_worker("rev")
        await run_to_end(runtime, "rev", "take a note")
        diagnostics = await runtime.diagnostics()
    assert [item.digest for item in listed] == [bundle.digest]
    assert kept.encode() == bundle.encode()
    assert created.profile == restored.profile == "named:scribe"
    assert model.requests[0].system == "You take notes."
    assert diagnostics == []


async def test_a_bundle_put_under_the_wrong_digest_is_not_kept(tmp_path: Path) -> None:
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        with pytest.raises(ConfigBundleDigestMismatch):
            await runtime.put_config_bundle("0" * 64, bundle_of())
        listed = await runtime.config_bundles()
        with pytest.raises(ConfigBundleMissing):
            await runtime.config_bundle("0" * 64)
    assert listed == ()
    assert list((tmp_path / "bundles").glob("*")) == []


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x01garbage", b'{"revision": "r1"}', json.dumps(changed(revision="r9")).encode()],
    ids=["bytes", "invalid-bundle", "another-bundle"],
)
async def test_a_corrupt_stored_bundle_is_a_diagnostic_not_a_failure_to_open(
    tmp_path: Path, garbage: bytes
) -> None:
    bundle = bundle_of()
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        await runtime.put_config_bundle(bundle.digest, bundle)
        await runtime.create_worker(reviewer_request(bundle.digest))
        await runtime.create_worker(CreateWorkerRequest(worker_id="plain"))
    (tmp_path / "bundles" / f"{bundle.digest}.json").write_bytes(garbage)
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        diagnostics = await runtime.diagnostics()
        listed = await runtime.config_bundles()
        plain = await runtime.get_worker("plain")
        with pytest.raises(WorkerUnavailable):
            await runtime.get_worker("rev")
    corrupt = [d for d in diagnostics if d.code == "store_corrupt"]
    assert len(corrupt) == 1
    assert bundle.digest in corrupt[0].message
    assert listed == ()
    assert plain.status == "idle"


async def test_syncing_a_corrupt_bundle_again_brings_its_workers_back(tmp_path: Path) -> None:
    bundle = bundle_of()
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        await runtime.put_config_bundle(bundle.digest, bundle)
        await runtime.create_worker(reviewer_request(bundle.digest))
    (tmp_path / "bundles" / f"{bundle.digest}.json").write_bytes(b"garbage")
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        await runtime.put_config_bundle(bundle.digest, bundle)
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        worker = await runtime.get_worker("rev")
        diagnostics = await runtime.diagnostics()
    assert worker.profile == "named:scribe"
    assert [d.code for d in diagnostics] == ["offline_model"]


async def test_an_unreadable_stored_bundle_is_a_diagnostic_not_a_failure_to_open(
    tmp_path: Path,
) -> None:
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        await runtime.put_config_bundle(bundle_of().digest, bundle_of())
    (tmp_path / "bundles" / f"{'a' * 64}.json").mkdir()
    async with Runtime(store=FsStore(tmp_path)) as runtime:
        diagnostics = await runtime.diagnostics()
        listed = await runtime.config_bundles()
    assert [d.code for d in diagnostics if d.code == "store_corrupt"] == ["store_corrupt"]
    assert [item.digest for item in listed] == [bundle_of().digest]
