"""``yoi runtime serve --role-model ROLE=PROVIDER:MODEL`` and ``role_models`` in its TOML."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.server.test_process import KEY, Launcher, clean_env, until

from yoi.client import RuntimeClient
from yoi.errors import InvalidRequest
from yoi.providers.selection import ROLES
from yoi.runtime import CreateWorkerRequest, RoleIntent
from yoi.server.settings import ServeSettings
from yoi.testing import FakeOpenAIServer, Text


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_file_gives_roles_their_models(tmp_path: Path) -> None:
    path = write(tmp_path / "runtime.toml", 'role_models = {coder = "openai:gpt-4o"}\n')
    assert ServeSettings.from_toml(path).role_models == {"coder": "openai:gpt-4o"}
    assert ServeSettings().role_models == {}


def test_role_model_flags_win_role_by_role_over_the_file(tmp_path: Path) -> None:
    text = 'role_models = {coder = "openai:gpt-4o", reviewer = "anthropic:claude-opus-4-1"}\n'
    from_file = ServeSettings.from_toml(write(tmp_path / "runtime.toml", text))
    flags = ("coder=anthropic:claude-sonnet-4-5", "orchestrator=openai:gpt-4o-mini")
    settings = from_file.override({"role_models": flags}, cwd=tmp_path)
    assert settings.role_models == {
        "coder": "anthropic:claude-sonnet-4-5",
        "reviewer": "anthropic:claude-opus-4-1",
        "orchestrator": "openai:gpt-4o-mini",
    }
    assert from_file.override({"role_models": ()}, cwd=tmp_path) == from_file


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        ("coder", "ROLE=PROVIDER:MODEL"),
        ("planner=openai:gpt-4o", "'planner' is not a role"),
        ("coder=gpt-4o", "role_models.coder is unusable"),
        ("reviewer=mistral:large", "role_models.reviewer is unusable"),
        ("coder=", "role_models.coder is unusable"),
    ],
)
def test_a_bad_role_model_flag_is_refused_naming_it(flag: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=says) as caught:
        ServeSettings().override({"role_models": (flag,)}, cwd=tmp_path)
    assert caught.value.details is not None
    assert caught.value.details["field"] == "role_models"


@pytest.mark.parametrize(
    "text",
    [
        'role_models = "openai:gpt-4o"',
        "role_models = {coder = 3}",
        'role_models = {x = "openai:a"}',
    ],
)
def test_a_bad_role_models_table_is_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="role_models") as caught:
        ServeSettings.from_toml(write(tmp_path / "runtime.toml", text))
    assert caught.value.code == "invalid_request"


_REFERENCES = st.builds(
    "{}:{}".format,
    st.sampled_from(["openai", "anthropic"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_:=/", min_size=1, max_size=20),
)


@given(st.lists(st.tuples(st.sampled_from(ROLES), _REFERENCES), max_size=6))
def test_role_model_flags_mean_the_last_reference_given_for_each_role(
    flags: list[tuple[str, str]],
) -> None:
    given_flags = tuple(f"{role}={reference}" for role, reference in flags)
    settings = ServeSettings().override({"role_models": given_flags}, cwd=Path("/"))
    assert settings.role_models == dict(flags)


async def test_a_served_runtime_runs_a_roles_workers_on_its_model(launcher: Launcher) -> None:
    async with FakeOpenAIServer([[Text("from the coder model")]]) as fake:
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)
        args = ("--model", "scripted:offline", "--role-model", "coder=openai:gpt-coder-test")
        served = await launcher.serve(*args, env=env)
        async with RuntimeClient(served.url) as client:
            coder = await client.create_worker(CreateWorkerRequest(intent=RoleIntent("coder")))
            helper = await client.create_worker()
            assert (coder.model, helper.model) == ("openai:gpt-coder-test", "scripted:offline")
            async with await client.subscribe(coder.worker_id) as stream:
                await client.send_input(coder.worker_id, "hello")
                await until(stream, "run_finished")
        assert [request.body["model"] for request in fake.requests] == ["gpt-coder-test"]
        fake.assert_consumed()
        done = await launcher.stop(served)
        assert done.code == 0, done.err
        assert KEY not in done.out + done.err
