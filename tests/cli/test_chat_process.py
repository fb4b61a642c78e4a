"""``yoi chat`` as a real process: piped input, the offline model, a fake OpenAI server."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.rig import Done, run_yoi
from tests.isolation import isolated_env

import yoi as yoi_package
from yoi.errors import ProviderAuthError
from yoi.testing import Fail, FakeOpenAIServer, Text

KEY = "sk-test-do-not-print-7f3a"


def clean_env(**extra: str) -> dict[str, str]:
    """An isolated environment (no backend answers) plus ``extra``."""
    return isolated_env(**extra)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder that is its own workspace root (it has a ``.git``)."""
    (tmp_path / ".git").mkdir()
    return tmp_path


async def yoi(*args: str, stdin: str, env: dict[str, str], cwd: Path) -> Done:
    return await run_yoi(*args, cwd=cwd, env=env, stdin=stdin)


async def test_with_no_model_configured_the_offline_model_answers_and_says_so(
    workspace: Path,
) -> None:
    done = await yoi("chat", stdin="hi\n", env=clean_env(), cwd=workspace)
    assert done.code == 0, done.err
    assert done.err == (
        "yoi: no model configured; answering with the offline scripted model. "
        "Set OPENAI_API_KEY or ANTHROPIC_API_KEY, or pass --model provider:model.\n"
    )
    assert "offline scripted model" in done.out
    assert done.out.endswith("You said: hi\n")


async def test_an_openai_compatible_server_streams_the_reply(workspace: Path) -> None:
    async with FakeOpenAIServer([[Text("Hello", " from", " the fake.")]]) as server:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        done = await yoi("chat", "--model", "openai:gpt-test", stdin="hi", env=env, cwd=workspace)
    assert done.code == 0, done.err
    assert done.out == "Hello from the fake.\n"
    assert done.err == "yoi: chatting with openai:gpt-test\n"
    server.assert_consumed()
    (request,) = server.requests
    assert request.path.endswith("/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "gpt-test"
    assert request.body["stream"] is True
    assert request.body["messages"][-1] == {"role": "user", "content": "hi"}


async def test_the_workspace_config_chooses_model_endpoint_and_key_variable(
    workspace: Path,
) -> None:
    async with FakeOpenAIServer([[Text("configured")]]) as server:
        (workspace / ".yoi").mkdir()
        (workspace / ".yoi" / "config.toml").write_text(
            '[model]\ndefault = "openai:gpt-config"\n\n'
            f'[providers.openai]\nbase_url = "{server.base_url}"\napi_key_env = "YOI_TEST_KEY"\n',
            encoding="utf-8",
        )
        nested = workspace / "src" / "deep"
        nested.mkdir(parents=True)
        env = clean_env(YOI_TEST_KEY=KEY)
        done = await yoi("chat", stdin="hello", env=env, cwd=nested)
    assert done.code == 0, done.err
    assert done.out == "configured\n"
    server.assert_consumed()
    assert server.requests[0].body["model"] == "gpt-config"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_a_failed_run_prints_its_code_and_exits_1(workspace: Path) -> None:
    refusal = Fail(ProviderAuthError("Incorrect API key provided", status=401))
    async with FakeOpenAIServer([[refusal]]) as server:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        done = await yoi("chat", "--model", "openai:gpt-test", stdin="hi", env=env, cwd=workspace)
    assert done.code == 1
    assert "yoi: the run ended failed: provider_auth: " in done.err
    assert "Incorrect API key provided" in done.err
    assert "Traceback" not in done.err
    assert KEY not in done.err + done.out


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--model", "gpt-4o"], {}, 1, "yoi: model_unavailable: model reference 'gpt-4o'"),
        (["--model", "openai:gpt-4o"], {}, 1, "environment variable OPENAI_API_KEY"),
        ([], {"OPENAI_API_KEY": ""}, 0, "no model configured"),
    ],
)
async def test_model_problems_are_one_typed_line(
    workspace: Path, args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    done = await yoi("chat", *args, stdin="hi", env=clean_env(**env), cwd=workspace)
    assert done.code == code
    assert says in done.err
    assert "Traceback" not in done.err


async def test_empty_input_is_refused(workspace: Path) -> None:
    done = await yoi("chat", stdin="  \n", env=clean_env(), cwd=workspace)
    assert done.code == 1
    assert done.err.endswith("yoi: invalid_request: nothing to send: the input was empty\n")


async def test_version(workspace: Path) -> None:
    done = await yoi("--version", stdin="", env=clean_env(), cwd=workspace)
    assert done.code == 0
    assert done.out == f"yoi, version {yoi_package.__version__}\n"
