"""`.yoi/ticket.config.toml`, read strictly: each mistake is an invalid_request naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.tickets.rig import SAMPLE, copy_sample

from yoi.errors import InvalidRequest
from yoi.tickets import Language, TicketConfig, TicketStore
from yoi.tickets.config import RoleSettings


def load(tmp_path: Path, text: str | bytes) -> TicketConfig:
    path = tmp_path / "ticket.config.toml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return TicketConfig.load(path)


def test_the_sample_config_reads_whole() -> None:
    config = TicketConfig.load(SAMPLE / "ticket.config.toml")

    assert (config.root, config.language, dict(config.orchestration)) == (
        ".yoi/tickets",
        Language.JA,
        {},
    )
    assert dict(config.roles) == {
        "intake": RoleSettings("builtin:intake", "ticket-intake-workflow"),
        "orchestrator": RoleSettings("builtin:orchestrator", "ticket-orchestrator-routing"),
        "coder": RoleSettings("builtin:coder", "multi-agent-workflow"),
        "reviewer": RoleSettings("builtin:reviewer", "multi-agent-workflow"),
    }


def test_every_table_and_key_reads(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[backend]\nroot = "work/tickets"\nprovider = "builtin:yoi_local"\n'
        '[ticket]\nlanguage = "English"\n'
        '[orchestration]\nbranch = "yoi/o"\nworktree_dir = ".wt"\nworktree_name = "o"\n'
        '[roles.coder]\nprofile = "builtin:coder"\n',
    )

    assert (config.root, config.language) == ("work/tickets", Language.EN)
    assert dict(config.orchestration) == {
        "branch": "yoi/o",
        "worktree_dir": ".wt",
        "worktree_name": "o",
    }
    assert dict(config.roles) == {"coder": RoleSettings("builtin:coder", None)}
    assert config.store_root(tmp_path) == tmp_path / "work" / "tickets"


def test_a_missing_file_gives_the_defaults(tmp_path: Path) -> None:
    config = TicketConfig.load(tmp_path / "absent.toml")

    assert config == TicketConfig()
    assert (config.root, config.language, dict(config.roles)) == (".yoi/tickets", Language.EN, {})


def test_an_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "") == TicketConfig()


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[colour]\nx = 1\n", "colour", "is not a table this file takes"),
        ("title = 'x'\n", "title", "is not a table this file takes"),
        ("ticket = 'Japanese'\n", "ticket", "must be a table"),
        ("roles = 'all'\n", "roles", "must be a table"),
        ("[ticket]\ncolour = 'red'\n", "ticket.colour", "is not a key this table takes"),
        ("[backend]\nurl = 'x'\n", "backend.url", "is not a key this table takes"),
        ("[ticket]\nlanguage = 1\n", "ticket.language", "must be a string"),
        ("[backend]\nroot = ['a']\n", "backend.root", "must be a string"),
        ("[orchestration]\nbranch = true\n", "orchestration.branch", "must be a string"),
        ("[roles]\ncoder = 'builtin:coder'\n", "roles.coder", "must be a table"),
        ("[roles.janitor]\nprofile = 'x'\n", "roles.janitor", "is not a role; the roles are"),
        ("[roles.coder]\nmodel = 'x'\n", "roles.coder.model", "is not a key this table takes"),
        ("[roles.coder]\nprofile = 3\n", "roles.coder.profile", "must be a string"),
        ("[ticket]\nlanguage = 'Klingon'\n", "ticket.language", "'Klingon' is not a language"),
        ("[ticket]\nlanguage = ''\n", "ticket.language", "'' is not a language"),
        ("[backend]\nroot = '/etc/tickets'\n", "backend.root", "must be a relative path"),
        ("[backend]\nroot = '../elsewhere'\n", "backend.root", "must be a relative path"),
        ("[backend]\nroot = 'a/../../b'\n", "backend.root", "must be a relative path"),
        ("[backend]\nroot = ''\n", "backend.root", "must be a relative path"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        load(tmp_path, text)

    assert refused.value.code == "invalid_request"
    assert refused.value.message.startswith(f"ticket.config.toml: {key} {problem}")
    assert refused.value.details == {"field": key}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[ticket\nlanguage = 'ja'\n", "is not valid TOML"),
        (b"[ticket]\nlanguage = '\xff'\n", "cannot be read as UTF-8 text"),
    ],
)
def test_an_unreadable_file_is_an_invalid_request(
    tmp_path: Path, text: str | bytes, problem: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        load(tmp_path, text)

    assert refused.value.message.startswith(f"ticket.config.toml {problem}")
    assert refused.value.details == {"field": "ticket.config.toml"}


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("ja", Language.JA),
        ("ja-JP", Language.JA),
        ("japanese", Language.JA),
        ("Japanese", Language.JA),
        (" JA ", Language.JA),
        ("日本語", Language.JA),
        ("en", Language.EN),
        ("English", Language.EN),
        ("en-US", Language.EN),
    ],
)
def test_language_names(tmp_path: Path, name: str, language: Language) -> None:
    assert load(tmp_path, f"[ticket]\nlanguage = {name!r}\n").language is language


def test_a_workspace_store_follows_its_config(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path)
    config = workspace / ".yoi" / "ticket.config.toml"
    config.write_text("[backend]\nroot = 'other/tickets'\n", encoding="utf-8")

    store = TicketStore.for_workspace(workspace)

    assert store.root == workspace / "other" / "tickets"
    assert store.config.language is Language.EN
    assert store.listing().total == 0


def test_a_bad_workspace_config_fails_the_store(tmp_path: Path) -> None:
    workspace = copy_sample(tmp_path)
    (workspace / ".yoi" / "ticket.config.toml").write_text("[ticket]\nlang = 'ja'\n", "utf-8")

    with pytest.raises(InvalidRequest, match=r"ticket\.lang is not a key"):
        TicketStore.for_workspace(workspace)
