"""The demo's product code: which model plays the roles, the project it makes, and a demo
that cannot finish saying why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.git_repo import git

from yoi.errors import InvalidRequest, ModelUnavailable
from yoi.orchestrator.demo import demo_choice, run_demo
from yoi.orchestrator.demo_project import DEMO_TICKETS, make_demo_repository
from yoi.providers.demo_ticket import parse_blocks
from yoi.providers.scripted import ScriptedModel


def test_the_playbook_plays_unless_a_real_model_is_named_or_has_a_key() -> None:
    assert demo_choice(None, {}).reference == "demo:playbook"
    assert demo_choice(None, {"OPENAI_API_KEY": "k"}).reference == "openai:gpt-4o-mini"
    assert demo_choice("anthropic:claude-x", {}).reference == "anthropic:claude-x"
    with pytest.raises(ModelUnavailable, match="cannot play"):
        demo_choice("scripted:offline", {})


def test_the_project_is_a_repository_whose_tests_pass_and_tickets_carry_files(
    tmp_path: Path,
) -> None:
    root = make_demo_repository(tmp_path / "repo")
    assert git(root, "ls-files").split() == [".gitignore", "greet.py", "test_greet.py"]
    assert git(root, "status", "--porcelain") == ""
    assert all(parse_blocks(ticket.body) for ticket in DEMO_TICKETS)
    assert [t.depends_on for t in DEMO_TICKETS] == [None, None, 0]
    with pytest.raises(InvalidRequest, match="not an empty folder"):
        make_demo_repository(root)


async def test_a_demo_whose_model_fails_ends_with_the_reason(tmp_path: Path) -> None:
    said: list[str] = []

    outcome = await run_demo(tmp_path / "repo", ScriptedModel([]), say=said.append, seconds=30)

    assert not outcome.done
    assert outcome.problem is not None
    assert re.match(r"ticket #[12] \S+ ended (stopped|failed): \S", outcome.problem)
    assert any("accepting" in line for line in said)
