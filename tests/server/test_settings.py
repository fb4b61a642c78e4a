"""What ``yoi runtime serve`` is asked for: flags, a TOML file, or both."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.runtime import StoreSettings
from yoi.server.settings import (
    DEFAULT_BIND,
    DEFAULT_TOKEN_ENV,
    ServeSettings,
    is_loopback,
    parse_bind,
)
from yoi.tools.sandbox import SandboxMode

TOKEN = "s3cret-token-value"
NO_FLAGS: dict[str, object] = {
    "runtime_id": None,
    "display_name": None,
    "bind": None,
    "store": None,
    "store_root": None,
    "token_env": None,
    "token_file": None,
    "model": None,
    "repositories": (),
    "sandbox": None,
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def flags(**given: object) -> dict[str, object]:
    """The flags as the command hands them over: every one present, None when not given."""
    return {**NO_FLAGS, **given}


# -- bind ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "address"),
    [
        ("127.0.0.1:7701", ("127.0.0.1", 7701)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:65535", ("localhost", 65535)),
        ("[::1]:0", ("::1", 0)),
        ("[::]:8080", ("::", 8080)),
    ],
)
def test_a_bind_is_a_host_and_a_port(bind: str, address: tuple[str, int]) -> None:
    assert parse_bind(bind) == address
    assert ServeSettings(bind=bind).address() == address


BAD_BINDS = [
    "127.0.0.1",
    "127.0.0.1:",
    ":7701",
    "[]:7701",
    "localhost:http",
    "localhost:-1",
    "localhost:65536",
    "localhost:7701x",
    "",
]


@pytest.mark.parametrize("bind", BAD_BINDS)
def test_a_bind_without_a_host_and_a_port_number_is_refused_naming_the_field(bind: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_bind(bind)
    assert refused.value.details == {"field": "bind"}
    assert "HOST:PORT" in refused.value.message


@pytest.mark.parametrize("bind", ["localhost:\u00b2", "localhost:\u0661\u0662"])
def test_a_port_of_digits_other_than_ascii_is_refused_as_a_bad_bind(bind: str) -> None:
    # str.isdigit() accepts "²" (which int() then rejects with ValueError) and "١٢" (which
    # int() reads as 12); a port is ASCII digits only.
    with pytest.raises(InvalidRequest) as refused:
        parse_bind(bind)
    assert refused.value.details == {"field": "bind"}


def test_the_default_bind_is_loopback() -> None:
    assert ServeSettings().bind == DEFAULT_BIND
    host, _ = ServeSettings().address()
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "example.com", ""])
def test_anything_else_counts_as_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)


# -- the token -------------------------------------------------------------------------


def test_a_token_comes_from_the_named_variable_trimmed() -> None:
    settings = ServeSettings(token_env="RUNTIME_TOKEN")
    assert settings.token({"RUNTIME_TOKEN": f"  {TOKEN}\n"}) == TOKEN


@pytest.mark.parametrize("env", [{}, {"RUNTIME_TOKEN": ""}, {"RUNTIME_TOKEN": "  \n"}])
def test_a_named_token_variable_that_is_unset_or_empty_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest, match="RUNTIME_TOKEN is empty or unset"):
        ServeSettings(token_env="RUNTIME_TOKEN").token(env)


def test_a_token_comes_from_a_file_trimmed(tmp_path: Path) -> None:
    path = write(tmp_path / "runtime.token", f"{TOKEN}\n")
    assert ServeSettings(token_file=path).token({DEFAULT_TOKEN_ENV: "ignored"}) == TOKEN


def test_an_empty_token_file_is_refused_without_showing_its_content(tmp_path: Path) -> None:
    path = write(tmp_path / "runtime.token", " \n\t")
    with pytest.raises(InvalidRequest, match="is empty"):
        ServeSettings(token_file=path).token({})


def test_a_missing_token_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read the token file"):
        ServeSettings(token_file=tmp_path / "absent.token").token({})


def test_two_token_sources_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "runtime.token", TOKEN)
    settings = ServeSettings(token_env="RUNTIME_TOKEN", token_file=path)
    with pytest.raises(InvalidRequest, match="not both") as refused:
        settings.token({"RUNTIME_TOKEN": TOKEN})
    assert TOKEN not in refused.value.message


def test_without_a_token_setting_the_default_variable_is_read_if_set() -> None:
    assert ServeSettings().token({DEFAULT_TOKEN_ENV: f" {TOKEN} "}) == TOKEN
    assert ServeSettings().token({DEFAULT_TOKEN_ENV: "  "}) is None
    assert ServeSettings().token({}) is None


# -- a TOML file -------------------------------------------------------------------------


def test_a_toml_file_holds_every_setting_with_paths_relative_to_its_directory(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "conf" / "runtime.toml",
        'runtime_id = "build-box"\n'
        'display_name = "Build box"\n'
        'bind = "[::1]:7702"\n'
        'store = "fs"\n'
        'store_root = "state/runtime"\n'
        "store_retain_event_bytes = 4096\n"
        'token_file = "runtime.token"\n'
        'model = "openai:gpt-4o-mini"\n'
        "ping_interval = 5\n",
    )
    settings = ServeSettings.from_toml(path)
    conf = tmp_path / "conf"
    assert settings.repositories == ()
    assert settings.sandbox is SandboxMode.BWRAP
    assert settings == ServeSettings(
        runtime_id="build-box",
        display_name="Build box",
        bind="[::1]:7702",
        store=StoreSettings("fs", conf / "state" / "runtime", 4096),
        token_env=None,
        token_file=conf / "runtime.token",
        model="openai:gpt-4o-mini",
        ping_interval=5.0,
    )
    assert settings.address() == ("::1", 7702)


def test_an_empty_toml_file_means_the_defaults(tmp_path: Path) -> None:
    assert ServeSettings.from_toml(write(tmp_path / "runtime.toml", "")) == ServeSettings()


def test_an_absolute_store_root_stays_where_it_is(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    text = f'store = "fs"\nstore_root = "{elsewhere}"\n'
    settings = ServeSettings.from_toml(write(tmp_path / "conf" / "runtime.toml", text))
    assert settings.store.root == elsewhere


def test_unknown_keys_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="unknown runtime settings: port, tokn") as refused:
        ServeSettings.from_mapping({"tokn": "x", "bind": "127.0.0.1:0", "port": 1}, base=tmp_path)
    assert refused.value.details == {"unknown": ["port", "tokn"]}


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"runtime_id": 7}, "runtime_id"),
        ({"display_name": "  "}, "display_name"),
        ({"bind": ""}, "bind"),
        ({"model": ["openai:gpt-4o"]}, "model"),
        ({"token_env": ""}, "token_env"),
        ({"store": "sqlite"}, "store"),
        ({"store": "fs"}, "store_root"),
        ({"store_retain_event_bytes": 0}, "store_retain_event_bytes"),
        ({"ping_interval": 0}, "ping_interval"),
        ({"ping_interval": 3601}, "ping_interval"),
        ({"ping_interval": True}, "ping_interval"),
        ({"ping_interval": "20"}, "ping_interval"),
        ({"repositories": "checkout"}, "repositories"),
        ({"repositories": ["checkout", 7]}, "repositories"),
        ({"repositories": [""]}, "repositories"),
        ({"repositories": ["  "]}, "repositories"),
        ({"repositories": ["a\0b"]}, "repositories"),
        ({"repositories": {"path": "checkout"}}, "repositories"),
        ({"sandbox": "firejail"}, "sandbox"),
        ({"sandbox": "NONE"}, "sandbox"),
        ({"sandbox": False}, "sandbox"),
        ({"sandbox": ""}, "sandbox"),
    ],
)
def test_a_bad_value_is_refused_naming_its_key(
    tmp_path: Path, values: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ServeSettings.from_mapping(values, base=tmp_path)
    assert refused.value.details == {"field": field}


def test_a_file_that_is_not_toml_is_refused_naming_it(tmp_path: Path) -> None:
    path = write(tmp_path / "runtime.toml", "bind = \n")
    with pytest.raises(InvalidRequest, match="is not valid TOML"):
        ServeSettings.from_toml(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read"):
        ServeSettings.from_toml(tmp_path / "absent.toml")


# -- flags over the file -----------------------------------------------------------------


@pytest.fixture
def from_file(tmp_path: Path) -> ServeSettings:
    return ServeSettings.from_toml(
        write(
            tmp_path / "conf" / "runtime.toml",
            'runtime_id = "from-file"\n'
            'display_name = "File box"\n'
            'bind = "127.0.0.1:7702"\n'
            'store = "fs"\n'
            'store_root = "state"\n'
            "store_retain_event_bytes = 4096\n"
            'token_env = "FILE_TOKEN"\n'
            'model = "openai:gpt-4o-mini"\n',
        )
    )


def test_flags_that_were_not_given_leave_the_file_alone(
    tmp_path: Path, from_file: ServeSettings
) -> None:
    assert from_file.override(flags(), cwd=tmp_path / "cwd") == from_file


def test_given_flags_win_over_the_file(tmp_path: Path, from_file: ServeSettings) -> None:
    given = flags(runtime_id="from-flag", bind="0.0.0.0:0", model="anthropic:claude-x")
    settings = from_file.override(given, cwd=tmp_path / "cwd")
    assert (settings.runtime_id, settings.bind, settings.model) == (
        "from-flag",
        "0.0.0.0:0",
        "anthropic:claude-x",
    )
    assert settings.display_name == "File box"
    assert settings.store == from_file.store
    assert settings.token_env == "FILE_TOKEN"


def test_a_store_root_flag_is_taken_from_the_working_directory_and_keeps_the_rest(
    tmp_path: Path, from_file: ServeSettings
) -> None:
    settings = from_file.override(flags(store_root=Path("other")), cwd=tmp_path / "cwd")
    assert settings.store == StoreSettings("fs", tmp_path / "cwd" / "other", 4096)


def test_a_store_flag_keeps_the_files_root(tmp_path: Path, from_file: ServeSettings) -> None:
    settings = from_file.override(flags(store="fs"), cwd=tmp_path / "cwd")
    assert settings.store == StoreSettings("fs", tmp_path / "conf" / "state", 4096)


def test_an_fs_store_flag_without_any_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ServeSettings().override(flags(store="fs"), cwd=tmp_path)
    assert refused.value.details == {"field": "store_root"}


def test_a_token_flag_replaces_the_files_token_source(
    tmp_path: Path, from_file: ServeSettings
) -> None:
    path = write(tmp_path / "cwd" / "runtime.token", TOKEN)
    settings = from_file.override(flags(token_file=path), cwd=tmp_path / "cwd")
    assert (settings.token_env, settings.token_file) == (None, path)
    assert settings.token({"FILE_TOKEN": "not this one"}) == TOKEN

    back = settings.override(flags(token_env="FLAG_TOKEN"), cwd=tmp_path / "cwd")
    assert (back.token_env, back.token_file) == ("FLAG_TOKEN", None)
    assert back.token({"FLAG_TOKEN": TOKEN}) == TOKEN


def test_flags_alone_build_the_settings(tmp_path: Path) -> None:
    given = flags(store="fs", store_root=Path("state"), bind="[::1]:0", token_env="T")
    settings = ServeSettings().override(given, cwd=tmp_path)
    assert settings.store == StoreSettings("fs", tmp_path / "state")
    assert settings.address() == ("::1", 0)
    assert settings.token({"T": TOKEN}) == TOKEN


def test_a_store_root_flag_alone_means_the_fs_store(tmp_path: Path) -> None:
    settings = ServeSettings().override({"store_root": "state"}, cwd=tmp_path)
    assert settings.store == StoreSettings(kind="fs", root=tmp_path / "state")


def test_a_memory_store_flag_beside_a_root_still_wins(tmp_path: Path) -> None:
    settings = ServeSettings().override({"store": "memory", "store_root": "x"}, cwd=tmp_path)
    assert settings.store.kind == "memory"


# -- repositories and the sandbox --------------------------------------------------------


def test_repositories_in_a_file_are_taken_from_its_directory_once_each(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    text = f'repositories = ["../checkout", "{elsewhere}", "../checkout"]\nsandbox = "none"\n'
    settings = ServeSettings.from_toml(write(tmp_path / "conf" / "runtime.toml", text))
    assert settings.repositories == (tmp_path / "conf" / ".." / "checkout", elsewhere)
    assert settings.sandbox is SandboxMode.NONE


def test_repository_flags_are_taken_from_the_working_directory_and_replace_the_files(
    tmp_path: Path,
) -> None:
    text = 'repositories = ["from-file"]\n'
    from_file = ServeSettings.from_toml(write(tmp_path / "conf" / "runtime.toml", text))
    given = flags(repositories=(Path("one"), Path("/abs/two")), sandbox="none")
    settings = from_file.override(given, cwd=tmp_path / "cwd")
    assert settings.repositories == (tmp_path / "cwd" / "one", Path("/abs/two"))
    assert settings.sandbox is SandboxMode.NONE
    kept = from_file.override(flags(), cwd=tmp_path / "cwd")
    assert kept.repositories == (tmp_path / "conf" / "from-file",)
    assert kept.sandbox is SandboxMode.BWRAP


def test_a_bad_sandbox_flag_is_refused_naming_the_modes(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as refused:
        ServeSettings().override(flags(sandbox="chroot"), cwd=tmp_path)
    assert refused.value.details == {"field": "sandbox"}
    assert refused.value.message == "sandbox must be 'bwrap' or 'none'"


@given(entries=st.lists(st.text(max_size=12) | st.integers() | st.none(), max_size=4))
def test_any_repository_list_is_its_paths_in_order_or_refused_naming_the_field(
    entries: list[object],
) -> None:
    base = Path("/base")
    values = {"repositories": entries}
    if not all(isinstance(e, str) and e.strip() and "\0" not in e for e in entries):
        with pytest.raises(InvalidRequest) as refused:
            ServeSettings.from_mapping(values, base=base)
        assert refused.value.details == {"field": "repositories"}
        return
    try:
        expected = [base / Path(str(entry)).expanduser() for entry in entries]
    except RuntimeError:  # ~user of a user with no home: refused, never a crash
        with pytest.raises(InvalidRequest) as refused:
            ServeSettings.from_mapping(values, base=base)
        assert refused.value.details == {"field": "repositories"}
        return
    settings = ServeSettings.from_mapping(values, base=base)
    assert list(settings.repositories) == list(dict.fromkeys(expected))


@pytest.mark.parametrize("key", ["repositories", "token_file"])
def test_a_home_of_a_user_that_does_not_exist_is_refused_naming_its_key(key: str) -> None:
    value: object = ["~no-such-user-here/repo"] if key == "repositories" else "~no-such-user-here/t"
    with pytest.raises(InvalidRequest) as refused:
        ServeSettings.from_mapping({key: value}, base=Path("/base"))
    assert refused.value.details == {"field": key}
