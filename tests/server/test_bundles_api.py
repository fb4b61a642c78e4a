"""Config bundles over the API (ARCHITECTURE §4.5): sync, read, and create workers from them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from tests.server.asgi import app_client, error_of

from yoi.engine.tool import Tool, ToolResult
from yoi.providers.script import Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import ConfigBundle, Runtime
from yoi.runtime.cursor import encode_cursor
from yoi.testing.observe import until

PROMPT = "You review pull requests for the Zephyr team. Be brief and kind."
BUNDLE: dict[str, Any] = {
    "format": "yoi.config-bundle/1",
    "revision": "r42",
    "provenance": {"source": "workspace config", "api_key_env": "OPENAI_API_KEY"},
    "profiles": {
        "zephyr-reviewer": {
            "prompt": PROMPT,
            "model": "openai:gpt-4o-mini",
            "max_turns": 5,
            "description": "reviews",
        },
        "scribe": {"prompt": "You take notes.", "tools": ["echo"]},
    },
}


class EchoTool:
    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {"type": "object", "properties": {}}

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        return ToolResult("echoed", str(dict(arguments)))


def digest_of(bundle: Mapping[str, Any]) -> str:
    return ConfigBundle.from_mapping(bundle).digest


async def put(http: httpx.AsyncClient, bundle: Mapping[str, Any]) -> str:
    digest = digest_of(bundle)
    response = await http.put(f"/v1/config-bundles/{digest}", json=bundle)
    assert response.status_code == 200, response.text
    return digest


def tools() -> list[Tool]:
    return [EchoTool()]


# -- syncing and reading ---------------------------------------------------------


async def test_a_bundle_put_under_its_digest_is_kept_and_described() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        digest = digest_of(BUNDLE)
        response = await http.put(f"/v1/config-bundles/{digest}", json=BUNDLE)
        fetched = await http.get(f"/v1/config-bundles/{digest}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"config_bundle", "content"}
    summary = body["config_bundle"]
    assert summary["digest"] == digest
    assert summary["revision"] == "r42"
    assert summary["provenance"] == BUNDLE["provenance"]
    assert summary["profiles"] == ["scribe", "zephyr-reviewer"]
    assert summary["size"] == len(ConfigBundle.from_mapping(BUNDLE).encode())
    assert body["content"]["profiles"]["zephyr-reviewer"]["prompt"] == PROMPT
    assert body["content"]["profiles"]["scribe"]["tools"] == ["echo"]
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_putting_the_same_bundle_again_changes_nothing() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        digest = await put(http, BUNDLE)
        reordered = {key: BUNDLE[key] for key in reversed(list(BUNDLE))}
        again = await http.put(f"/v1/config-bundles/{digest}", json=reordered)
        listed = (await http.get("/v1/config-bundles")).json()
    assert again.status_code == 200
    assert again.json()["config_bundle"]["digest"] == digest
    assert [item["digest"] for item in listed["config_bundles"]] == [digest]


async def test_bundles_are_listed_by_digest_without_their_prompts() -> None:
    other = {**BUNDLE, "revision": "r43"}
    async with Runtime() as runtime, app_client(runtime) as http:
        empty = (await http.get("/v1/config-bundles")).json()
        digests = {await put(http, BUNDLE), await put(http, other)}
        listed = (await http.get("/v1/config-bundles")).json()
    assert empty == {"config_bundles": []}
    assert list(listed) == ["config_bundles"]
    assert [item["digest"] for item in listed["config_bundles"]] == sorted(digests)
    assert {item["revision"] for item in listed["config_bundles"]} == {"r42", "r43"}
    assert PROMPT not in str(listed)


async def test_a_digest_that_does_not_name_the_bundle_is_refused() -> None:
    wrong = digest_of({**BUNDLE, "revision": "another"})
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.put(f"/v1/config-bundles/{wrong}", json=BUNDLE)
        listed = (await http.get("/v1/config-bundles")).json()["config_bundles"]
    error = error_of(response, 400)
    assert error["code"] == "config_bundle_digest_mismatch"
    assert error["details"]["actual"] == digest_of(BUNDLE)
    assert listed == []


@pytest.mark.parametrize(
    "digest", ["abc", "0" * 63, "A" * 64, "g" * 64, "0" * 65, "sha256-" + "0" * 57]
)
async def test_a_malformed_digest_is_an_invalid_request(digest: str) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        put_response = await http.put(f"/v1/config-bundles/{digest}", json=BUNDLE)
        get_response = await http.get(f"/v1/config-bundles/{digest}")
    assert error_of(put_response, 400)["code"] == "invalid_request"
    assert error_of(get_response, 400)["code"] == "invalid_request"


async def test_an_unknown_bundle_is_missing() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.get(f"/v1/config-bundles/{'e' * 64}")
    error = error_of(response, 404)
    assert error["code"] == "config_bundle_missing"
    assert error["details"] == {"digest": "e" * 64}


def with_provenance(**values: str) -> dict[str, Any]:
    bundle = copy.deepcopy(BUNDLE)
    bundle["provenance"].update(values)
    return bundle


def with_prompt(prompt: str) -> dict[str, Any]:
    bundle = copy.deepcopy(BUNDLE)
    bundle["profiles"]["scribe"]["prompt"] = prompt
    return bundle


@pytest.mark.parametrize(
    ("bundle", "secret"),
    [
        (with_prompt("Use the key sk-proj-abcdefghijklmnopqrstuv to call out."), "sk-proj-abc"),
        (with_provenance(origin="sk-abcdefghijklmnopqrstuvwx"), "sk-abcdef"),
        (with_provenance(workspace="/home/alice/project"), "/home/alice"),
        (with_provenance(source="https://user:hunter2@git.example/x"), "hunter2"),
        (with_provenance(deploy_token="tk-9f8e7d6c5b4a"), "tk-9f8e7d6c5b4a"),
        (with_provenance(password="correct horse"), "correct horse"),
    ],
    ids=["key-in-prompt", "key-in-provenance", "home-path", "url-credentials", "token", "password"],
)
async def test_a_bundle_holding_a_secret_or_local_path_is_refused_without_echoing_it(
    bundle: dict[str, Any], secret: str
) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.put(f"/v1/config-bundles/{'0' * 64}", json=bundle)
        listed = (await http.get("/v1/config-bundles")).json()["config_bundles"]
    error = error_of(response, 400)
    assert error["code"] == "invalid_request"
    assert secret not in response.text
    assert listed == []


@pytest.mark.parametrize(
    "bundle",
    [
        {**BUNDLE, "signature": "x"},
        {**BUNDLE, "format": "yoi.config-bundle/2"},
        {**BUNDLE, "profiles": {}},
        {**BUNDLE, "profiles": {"Bad Name": {"prompt": "x"}}},
        {**BUNDLE, "profiles": {"x": {"prompt": "x", "model": "http://localhost:8080/v1"}}},
        {**BUNDLE, "profiles": {"x": {"prompt": "x", "endpoint": "http://h"}}},
        {**BUNDLE, "profiles": {"x": {"prompt": " "}}},
        {**BUNDLE, "revision": 7},
    ],
    ids=[
        "unknown-field",
        "format",
        "no-profiles",
        "bad-name",
        "endpoint-model",
        "unknown-profile-field",
        "blank-prompt",
        "revision-type",
    ],
)
async def test_a_malformed_bundle_is_an_invalid_request(bundle: dict[str, Any]) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.put(f"/v1/config-bundles/{'0' * 64}", json=bundle)
    assert error_of(response, 400)["code"] == "invalid_request"


# -- workers from bundle profiles ---------------------------------------------------


async def test_a_worker_is_created_from_a_named_profile_in_a_bundle() -> None:
    model = ScriptedModel([[Text("LGTM")]])
    async with Runtime(model=model) as runtime, app_client(runtime) as http:
        digest = await put(http, BUNDLE)
        response = await http.post(
            "/v1/workers",
            json={
                "worker_id": "rev",
                "profile": "named:zephyr-reviewer",
                "config_bundle": {"digest": digest},
                "intent": {"kind": "task", "objective": "review #12"},
                "initial_input": "please look",
            },
        )
        async with await runtime.subscribe("rev", encode_cursor("rev", 0)) as live:
            await until(live, "run_finished")
    assert response.status_code == 201, response.text
    worker = response.json()["worker"]
    assert worker["profile"] == "named:zephyr-reviewer"
    assert worker["tools"] == []
    system = model.requests[0].system
    assert system.startswith(PROMPT)
    assert system.endswith("Your task: review #12")
    model.assert_consumed()


async def test_a_bundle_profile_whose_tools_the_runtime_offers_is_granted_them() -> None:
    async with Runtime(tools=tools()) as runtime, app_client(runtime) as http:
        digest = await put(http, BUNDLE)
        response = await http.post(
            "/v1/workers",
            json={
                "profile": "named:scribe",
                "config_bundle": {"digest": digest},
                "requested_capabilities": [{"name": "echo", "reason": "to test"}],
            },
        )
    assert response.status_code == 201, response.text
    worker = response.json()["worker"]
    assert worker["profile"] == "named:scribe"
    assert worker["tools"] == ["echo"]


async def test_a_bundle_profile_granting_a_tool_the_runtime_lacks_is_unsupported() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        digest = await put(http, BUNDLE)
        response = await http.post(
            "/v1/workers", json={"profile": "named:scribe", "config_bundle": {"digest": digest}}
        )
        listed = (await http.get("/v1/workers")).json()["workers"]
    error = error_of(response, 501)
    assert error["code"] == "unsupported_operation"
    assert error["details"]["unsupported"] == ["echo"]
    assert listed == []


async def test_a_worker_from_a_bundle_the_runtime_lacks_is_refused() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.post(
            "/v1/workers",
            json={"profile": "named:zephyr-reviewer", "config_bundle": {"digest": "d" * 64}},
        )
    error = error_of(response, 404)
    assert error["code"] == "config_bundle_missing"
    assert error["details"] == {"digest": "d" * 64}


async def test_a_profile_the_bundle_does_not_define_is_an_invalid_profile() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        digest = await put(http, BUNDLE)
        response = await http.post(
            "/v1/workers", json={"profile": "named:ghost", "config_bundle": {"digest": digest}}
        )
    error = error_of(response, 400)
    assert error["code"] == "invalid_profile"
    assert error["details"]["profiles"] == ["scribe", "zephyr-reviewer"]


async def test_a_malformed_bundle_reference_is_an_invalid_request() -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        response = await http.post(
            "/v1/workers",
            json={"profile": "named:scribe", "config_bundle": {"digest": "../../etc/passwd"}},
        )
    assert error_of(response, 400)["code"] == "invalid_request"
