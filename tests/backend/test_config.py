"""Reading ``.yoi/config.toml``: defaults, runtimes, and strict errors that name their key."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.backend.config import (
    DEFAULT_LISTEN,
    DEFAULT_TOKEN_ENV,
    BackendSettings,
    LocalRuntimeSettings,
    RemoteRuntimeSettings,
)
from yoi.errors import InvalidRequest

SECRET = "sk-live-0123456789abcdefghij"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> InvalidRequest:
    path = write(tmp_path, text)
    with pytest.raises(InvalidRequest) as raised:
        BackendSettings.from_toml(path)
    error = raised.value
    assert error.code == "invalid_request"
    return error


def runtime(after: str = "", **fields: str | None) -> str:
    """A ``[[runtimes]]`` entry, valid but for ``fields`` (TOML values; None drops the key)."""
    values: dict[str, str | None] = {"id": '"box"', "url": '"http://10.0.0.7:7701"', **fields}
    lines = [f"{key} = {value}" for key, value in values.items() if value is not None]
    return "\n".join(["[[runtimes]]", *lines, after, ""])


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    settings = BackendSettings.from_toml(tmp_path / "config.toml")
    assert settings == BackendSettings()
    assert settings.listen == DEFAULT_LISTEN == "127.0.0.1:8787"
    assert settings.token_env == DEFAULT_TOKEN_ENV == "YOI_BACKEND_TOKEN"
    assert settings.runtimes == ()
    assert settings.local_runtime == LocalRuntimeSettings(enabled=True, sandbox=None)


def test_an_empty_file_and_foreign_tables_give_the_defaults(tmp_path: Path) -> None:
    text = '[model]\ndefault = "openai:gpt-4o"\n[providers.openai]\napi_key_env = "K"\n'
    assert BackendSettings.from_toml(write(tmp_path, text)) == BackendSettings()
    assert BackendSettings.from_toml(write(tmp_path, "")) == BackendSettings()


def test_the_backend_table_and_runtime_entries_are_read(tmp_path: Path) -> None:
    text = """
[backend]
listen = "0.0.0.0:9000"
token_env = "MY_BACKEND_TOKEN"

[[runtimes]]
id = "build-box"
display_name = "Build box"
url = "http://10.0.0.7:7701/"
token_env = "BUILD_BOX_TOKEN"
timeout = 2.5

[[runtimes]]
id = "gpu.1"
url = "https://gpu.example:443"
timeout = 7
"""
    settings = BackendSettings.from_toml(write(tmp_path, text))
    assert settings.listen == "0.0.0.0:9000"
    assert settings.token_env == "MY_BACKEND_TOKEN"
    assert settings.runtimes == (
        RemoteRuntimeSettings(
            runtime_id="build-box",
            url="http://10.0.0.7:7701",
            display_name="Build box",
            token_env="BUILD_BOX_TOKEN",
            timeout=2.5,
        ),
        RemoteRuntimeSettings(runtime_id="gpu.1", url="https://gpu.example:443", timeout=7.0),
    )
    assert isinstance(settings.runtimes[1].timeout, float)


def test_a_runtime_without_optional_keys_gets_their_defaults(tmp_path: Path) -> None:
    (entry,) = BackendSettings.from_toml(write(tmp_path, runtime())).runtimes
    assert entry.display_name is None
    assert entry.token_env is None
    assert entry.timeout == 10.0


def test_a_token_in_a_runtime_entry_is_refused_without_echoing_it(tmp_path: Path) -> None:
    error = refusal(tmp_path, runtime(token=f'"{SECRET}"'))
    assert error.details == {"file": "config.toml", "key": "runtimes[0].token"}
    assert "runtimes[0].token" in error.message
    assert "token_env" in error.message
    assert SECRET not in error.message
    assert SECRET not in repr(error.details)


BAD = [
    ("[backend]\nport = 1\n", "backend.port", "not a setting"),
    ('[backend]\nlisten = "nonsense"\n', "backend.listen", "unusable"),
    ("[backend]\nlisten = 8787\n", "backend.listen", "non-empty string"),
    ('[backend]\nlisten = "   "\n', "backend.listen", "non-empty string"),
    ('[backend]\ntoken_env = "MY-TOKEN"\n', "backend.token_env", "environment variable"),
    ('backend = "x"\n', "backend", "must be a table"),
    ('runtimes = "box"\n', "runtimes", "array of tables"),
    ("[runtimes]\nid = 1\n", "runtimes", "array of tables"),
    ('runtimes = ["box"]\n', "runtimes[0]", "must be a table"),
    (runtime(colour='"red"'), "runtimes[0].colour", "not a setting"),
    (runtime(id=None), "runtimes[0].id", "is required"),
    (runtime(id='"Build Box"'), "runtimes[0].id", "unusable"),
    (runtime(id='"-box"'), "runtimes[0].id", "unusable"),
    (runtime(id="7"), "runtimes[0].id", "non-empty string"),
    (runtime(id='"backend-internal"'), "runtimes[0].id", "embedded runtime"),
    (runtime() + runtime(), "runtimes", "twice"),
    (runtime(url=None), "runtimes[0].url", "http://"),
    (runtime(url='"ftp://10.0.0.7:21"'), "runtimes[0].url", "http://"),
    (runtime(url='"10.0.0.7:7701"'), "runtimes[0].url", "http://"),
    (runtime(url='"http://"'), "runtimes[0].url", "http://"),
    (runtime(url='"http://[::1"'), "runtimes[0].url", "http://"),
    (runtime(display_name="3"), "runtimes[0].display_name", "non-empty string"),
    (runtime(token_env='"1TOKEN"'), "runtimes[0].token_env", "environment variable"),
    (runtime(token_env='"A B"'), "runtimes[0].token_env", "environment variable"),
    (runtime(token_env='""'), "runtimes[0].token_env", "non-empty string"),
    (runtime(timeout="0"), "runtimes[0].timeout", "seconds"),
    (runtime(timeout="-1.5"), "runtimes[0].timeout", "seconds"),
    (runtime(timeout="601"), "runtimes[0].timeout", "seconds"),
    (runtime(timeout='"10"'), "runtimes[0].timeout", "seconds"),
    (runtime(timeout="true"), "runtimes[0].timeout", "seconds"),
    (runtime('[runtimes.extra]\nx = "y"'), "runtimes[0].extra", "not a setting"),
    (runtime(id='"local"'), "runtimes[0].id", "local runtime's id"),
    ('local_runtime = "on"\n', "local_runtime", "must be a table"),
    ("[local_runtime]\nenabled = 1\n", "local_runtime.enabled", "true or false"),
    ('[local_runtime]\nenabled = "false"\n', "local_runtime.enabled", "true or false"),
    ('[local_runtime]\nsandbox = "off"\n', "local_runtime.sandbox", '"bwrap" or "none"'),
    ("[local_runtime]\nsandbox = false\n", "local_runtime.sandbox", '"bwrap" or "none"'),
    ('[local_runtime]\nrepositories = ["."]\n', "local_runtime.repositories", "not a setting"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD, ids=[f"{k}: {p}" for _, k, p in BAD])
def test_a_mistake_names_its_key_and_the_file_by_name(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    error = refusal(tmp_path, text)
    assert error.details == {"file": "config.toml", "key": key}
    assert error.message.startswith(f"config.toml: {key} ")
    assert problem in error.message
    assert str(tmp_path) not in error.message


@pytest.mark.parametrize(
    "url",
    [f"http://admin:{SECRET}@10.0.0.7:7701", f"https://{SECRET}@gpu.example"],
    ids=["user and password", "user only"],
)
def test_a_url_with_credentials_is_refused_without_echoing_it(tmp_path: Path, url: str) -> None:
    error = refusal(tmp_path, runtime(url=f'"{url}"'))
    assert error.details["key"] == "runtimes[0].url"
    assert SECRET not in error.message


def test_a_duplicate_id_is_found_among_several_entries(tmp_path: Path) -> None:
    text = runtime() + '[[runtimes]]\nid = "other"\nurl = "http://h:2"\n' + runtime()
    error = refusal(tmp_path, text)
    assert error.details["key"] == "runtimes"
    assert "'box'" in error.message


def test_malformed_toml_is_refused_naming_the_file_but_not_its_folder(tmp_path: Path) -> None:
    error = refusal(tmp_path, f'[backend\ntoken_env = "{SECRET}"\n')
    assert "config.toml" in error.message
    assert "valid TOML" in error.message
    assert SECRET not in error.message
    assert str(tmp_path) not in error.message


def test_an_unreadable_file_is_refused_naming_the_file_but_not_its_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(InvalidRequest) as raised:
        BackendSettings.from_toml(tmp_path / "config.toml")
    assert "config.toml" in raised.value.message
    assert str(tmp_path) not in raised.value.message


def test_malformed_toml_is_invalid_request(tmp_path: Path) -> None:
    error = refusal(tmp_path, "[backend\n")
    assert "not valid TOML" in error.message


def test_a_runtime_token_is_read_from_the_named_variable() -> None:
    entry = RemoteRuntimeSettings("box", "http://h:1", token_env="BOX_TOKEN")
    assert entry.token({"BOX_TOKEN": SECRET, "OTHER": "x"}) == SECRET
    assert entry.token({"OTHER": "x"}) is None
    assert entry.token({"BOX_TOKEN": ""}) is None
    assert RemoteRuntimeSettings("box", "http://h:1").token({"BOX_TOKEN": SECRET}) is None


def test_the_backend_token_is_read_from_its_variable(tmp_path: Path) -> None:
    settings = BackendSettings.from_toml(write(tmp_path, '[backend]\ntoken_env = "MINE"\n'))
    assert settings.token({"MINE": SECRET, DEFAULT_TOKEN_ENV: "other"}) == SECRET
    assert settings.token({DEFAULT_TOKEN_ENV: "other"}) is None
    assert BackendSettings().token({DEFAULT_TOKEN_ENV: SECRET}) == SECRET
    assert BackendSettings().token({DEFAULT_TOKEN_ENV: ""}) is None


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("enabled = false", LocalRuntimeSettings(enabled=False)),
        ('sandbox = "none"', LocalRuntimeSettings(enabled=True, sandbox="none")),
        ('enabled = true\nsandbox = "bwrap"', LocalRuntimeSettings(enabled=True, sandbox="bwrap")),
    ],
)
def test_the_local_runtime_table_is_read(
    tmp_path: Path, table: str, expected: LocalRuntimeSettings
) -> None:
    settings = BackendSettings.from_toml(write(tmp_path, f"[local_runtime]\n{table}\n"))
    assert settings.local_runtime == expected


def test_a_remote_runtime_may_be_called_local_once_the_local_one_is_off(tmp_path: Path) -> None:
    text = "[local_runtime]\nenabled = false\n" + runtime(id='"local"')
    settings = BackendSettings.from_toml(write(tmp_path, text))
    assert [entry.runtime_id for entry in settings.runtimes] == ["local"]


_SCALARS = (
    st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(["bwrap", "none", "true", "false", "BWRAP", ""])
    | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
)


def read_text(text: str) -> BackendSettings:
    with tempfile.TemporaryDirectory() as folder:
        return BackendSettings.from_toml(write(Path(folder), text))


@given(enabled=st.none() | _SCALARS, sandbox=st.none() | _SCALARS)
def test_any_local_runtime_table_means_exactly_its_values_or_is_refused_by_key(
    enabled: object, sandbox: object
) -> None:
    given_keys = {"enabled": enabled, "sandbox": sandbox}
    lines = [  # a JSON scalar is a TOML one, written unescaped (TOML refuses surrogate escapes)
        f"{key} = {json.dumps(value, ensure_ascii=False)}"
        for key, value in given_keys.items()
        if value is not None
    ]
    text = "\n".join(["[local_runtime]", *lines, ""])
    if enabled is not None and not isinstance(enabled, bool):
        key = "local_runtime.enabled"
    elif sandbox is not None and sandbox not in ("bwrap", "none"):
        key = "local_runtime.sandbox"
    else:
        assert read_text(text).local_runtime == LocalRuntimeSettings(
            enabled=enabled is not False,
            sandbox=sandbox,
        )
        return
    with pytest.raises(InvalidRequest) as refused:
        read_text(text)
    assert refused.value.details == {"file": "config.toml", "key": key}
