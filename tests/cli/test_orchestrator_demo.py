"""``yoi orchestrator demo`` end to end on the demo playbook model: three tickets queued on a
small program reach ``done``, merged one by one into the integration branch."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner
from tests.git_repo import git
from tests.isolation import session_home

from yoi.cli.app import app
from yoi.cli.session import announce
from yoi.providers.selection import ModelSettings, select_model
from yoi.tickets import State, TicketStore


def hermetic() -> dict[str, str | None]:
    """No model key, git or yoi setting of the developer's reaches the command."""
    dropped = ("YOI_", "OPENAI_", "ANTHROPIC_", "GIT_")
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(dropped) or name.endswith("_API_KEY")
    }
    return {**env, "HOME": str(session_home()), "XDG_CONFIG_HOME": str(session_home())}


def test_the_demo_takes_three_tickets_to_done(tmp_path: Path) -> None:
    kept = tmp_path / "x"

    result = CliRunner().invoke(
        app, ["orchestrator", "demo", "--keep", str(kept), "--timeout", "240"], env=hermetic()
    )

    assert result.exit_code == 0, result.output
    assert "model: demo:playbook" in result.output
    store = TicketStore(kept / ".yoi" / "tickets")
    states = {meta.title: meta.state for meta in store.catalog().metas.values()}
    assert states == {
        "Greet in French and Spanish too": State.DONE,
        "Say goodbye": State.DONE,
        "List the languages greet knows": State.DONE,
    }
    subjects = git(kept, "log", "--format=%s", "orchestration").splitlines()
    assert len([s for s in subjects if s.startswith("merge: ")]) == 3
    assert "all 3 tickets are done" in result.output
    assert "merge: " in result.output  # the integration branch's log is printed
    assert git(kept, "branch", "--list", "work/*").strip() == ""


def test_a_kept_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "mine.txt").write_text("mine\n")

    result = CliRunner().invoke(
        app, ["orchestrator", "demo", "--keep", str(tmp_path / "x")], env=hermetic()
    )

    assert result.exit_code == 1
    assert "not an empty folder" in result.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["mine.txt"]


def test_the_offline_model_cannot_play_the_roles(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["orchestrator", "demo", "--keep", str(tmp_path / "x"), "--model", "scripted:offline"],
        env=hermetic(),
    )

    assert result.exit_code == 1
    assert "model_unavailable" in result.output
    assert "cannot play" in result.output
    assert not (tmp_path / "x").exists()


def test_a_chat_on_the_demo_model_is_announced_as_a_demo() -> None:
    choice = select_model("demo:playbook", ModelSettings(), {})

    assert announce(choice).startswith("answering with the demo playbook model (demo:playbook)")
