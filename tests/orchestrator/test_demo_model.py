"""The demo playbook model against real runtimes: the orchestrator's very inputs
(:mod:`yoi.orchestrator.prompts`) to the builtin intake, coder and reviewer, real commits
in real worktrees, reports the tools accept; and its ticket-block parser, by property."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.git_repo import git
from tests.orchestrator.stack import Stack, make_repository, orchestrator_stack, queue

from yoi.errors import ModelUnavailable
from yoi.orchestrator.prompts import (
    FixReason,
    fix_input,
    implement_input,
    intake_input,
    review_input,
)
from yoi.orchestrator.run_record import Phase
from yoi.providers.demo import DEMO_REFERENCE, DemoModel
from yoi.providers.demo_ticket import (
    Ask,
    AskKind,
    FileBlock,
    parse_blocks,
    read_ask,
    read_ticket,
    render_blocks,
)
from yoi.providers.selection import ModelSettings, build_model, select_model
from yoi.runtime import CreateWorkerRequest, NewWorkdir, Runtime
from yoi.runtime.events import Event, ToolCallFinishedEvent, ToolCallStartedEvent
from yoi.runtime.workdirs import Workdirs
from yoi.testing.observe import run_to_end
from yoi.tools.intent import IntentPacket

TICKET = "01KDEMOTICKET0000000000001"
INTENT = IntentPacket(intent=("greet",), requirements=("greet.py greets",))
GREET = "def greet(name):\n    return f'Hello, {name}!'\n"
BODY = f"Make greet.py greet.\n\n<<< greet.py\n{GREET}>>>\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "greet.py").write_text("def greet(name):\n    return 'hi'\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First")
    return root


@pytest.fixture
async def runtime(repo: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    workdirs = Workdirs(repositories=[repo], folder=tmp_path / "worktrees")
    async with Runtime(runtime_id="local", model=DemoModel(), workdirs=workdirs) as opened:
        yield opened


def finished(events: list[Event]) -> dict[str, ToolCallFinishedEvent]:
    """The last finished call of each tool in a run."""
    return {e.event.name: e.event for e in events if isinstance(e.event, ToolCallFinishedEvent)}


def arguments(events: list[Event], tool: str) -> dict[str, object]:
    started = [e.event for e in events if isinstance(e.event, ToolCallStartedEvent)]
    found: dict[str, object] = json.loads([s for s in started if s.name == tool][-1].arguments)
    return found


async def coder(runtime: Runtime, branch: str = "work/greet") -> str:
    request = CreateWorkerRequest(profile="builtin:coder", workdir=NewWorkdir(branch=branch))
    return (await runtime.create_worker(request)).worker_id


def implement(body: str = BODY, title: str = "Greet by name") -> str:
    return implement_input(TICKET, title, body, INTENT, "work/greet", "op-1")


# -- against real runtimes ----------------------------------------------------------------------


async def test_the_coder_writes_the_ticket_files_commits_and_reports(
    runtime: Runtime, repo: Path
) -> None:
    worker = await coder(runtime)

    events = await run_to_end(runtime, worker, implement())

    calls = finished(events)
    assert not calls["git_commit"].is_error, calls["git_commit"].summary
    assert not calls["submit_report"].is_error, calls["submit_report"].summary
    assert arguments(events, "submit_report")["files"] == ["greet.py"]
    assert git(repo, "show", "work/greet:greet.py") == GREET
    assert git(repo, "log", "-1", "--format=%s", "work/greet").strip() == f"{TICKET}: Greet by name"


async def test_without_blocks_the_coder_writes_a_note_naming_the_ticket(
    runtime: Runtime, repo: Path
) -> None:
    worker = await coder(runtime)

    events = await run_to_end(runtime, worker, implement("Just a thought.", "Think"))

    assert not finished(events)["submit_report"].is_error
    assert git(repo, "show", f"work/greet:notes/{TICKET}.md") == "# Think\n"


async def test_a_claim_without_commit_is_made_once_then_the_fix_makes_it_true(
    runtime: Runtime, repo: Path
) -> None:
    worker = await coder(runtime)
    base = git(repo, "rev-parse", "main").strip()

    claimed = await run_to_end(runtime, worker, implement(BODY + "Demo: claim without commit\n"))
    assert "git_commit" not in finished(claimed)
    assert git(repo, "rev-parse", "work/greet").strip() == base
    assert arguments(claimed, "submit_report")["files"] == ["greet.py"]

    fixed = await run_to_end(runtime, worker, fix_input(TICKET, FixReason.CLAIMS, [], "op-2"))
    assert not finished(fixed)["git_commit"].is_error
    assert git(repo, "show", "work/greet:greet.py") == GREET
    assert git(repo, "log", "-1", "--format=%s", "work/greet").strip() == f"{TICKET}: fix claims"


async def test_a_fix_without_fix_blocks_appends_why_to_the_first_file(
    runtime: Runtime, repo: Path
) -> None:
    worker = await coder(runtime)
    await run_to_end(runtime, worker, implement())

    events = await run_to_end(runtime, worker, fix_input(TICKET, FixReason.REVIEW, ["x"], "op-2"))
    assert not finished(events)["submit_report"].is_error
    again = await run_to_end(runtime, worker, fix_input(TICKET, FixReason.REVIEW, ["x"], "op-3"))
    assert not finished(again)["git_commit"].is_error, finished(again)["git_commit"].summary

    shown = git(repo, "show", "work/greet:greet.py")
    assert shown == GREET + "fixed: review\nfixed: review\n"


async def test_a_conflict_fix_writes_the_fix_block_and_concludes_the_merge(
    runtime: Runtime, repo: Path
) -> None:
    resolved = "def greet(name):\n    return f'Hello there, {name}!'\n"
    worker = await coder(runtime)
    await run_to_end(runtime, worker, implement(f"{BODY}<<<fix greet.py\n{resolved}>>>\n"))
    (repo / "greet.py").write_text("def greet(name):\n    return 'hey'\n")
    git(repo, "commit", "-q", "-am", "Elsewhere")
    detail = await runtime.get_worker(worker)
    assert runtime.workdirs is not None
    assert detail.workdir is not None
    worktree = runtime.workdirs.path(detail.workdir)
    with pytest.raises(subprocess.CalledProcessError):
        git(worktree, "merge", "--no-commit", "--no-ff", "main")

    why = fix_input(TICKET, FixReason.CONFLICT, ["greet.py"], "op-2")
    events = await run_to_end(runtime, worker, why)

    assert not finished(events)["git_commit"].is_error, finished(events)["git_commit"].summary
    parents = git(worktree, "rev-list", "--parents", "-n1", "HEAD").split()
    assert len(parents) == 3
    assert git(worktree, "status", "--porcelain").strip() == ""
    assert git(repo, "show", "work/greet:greet.py") == resolved


async def test_the_reviewer_approves_and_asks_changes_once_when_told(
    runtime: Runtime, repo: Path
) -> None:
    worker = await coder(runtime)
    body = BODY + "Demo: request changes once\n"
    await run_to_end(runtime, worker, implement(body))
    workdir = (await runtime.get_worker(worker)).workdir
    reviewer = await runtime.create_worker(
        CreateWorkerRequest(profile="builtin:reviewer", workdir=workdir)
    )
    commit = git(repo, "rev-parse", "work/greet").strip()

    def review(op: str) -> str:
        return review_input(TICKET, "Greet by name", body, INTENT, commit, "main", op)

    first = await run_to_end(runtime, reviewer.worker_id, review("op-3"))
    second = await run_to_end(runtime, reviewer.worker_id, review("op-4"))

    assert not finished(first)["submit_review"].is_error
    asked = arguments(first, "submit_review")
    assert asked["verdict"] == "request_changes"
    assert asked["findings"] == [
        {
            "severity": "major",
            "file": "greet.py",
            "message": "The ticket asks for one round of changes (Demo: request changes once).",
        }
    ]
    assert arguments(second, "submit_review")["verdict"] == "approve"


async def test_the_intake_answers_ready_with_the_ticket_or_not_ready_when_told() -> None:
    async with Runtime(runtime_id="backend-internal", model=DemoModel()) as runtime:
        intake = CreateWorkerRequest(profile="builtin:orchestrator")
        ready = (await runtime.create_worker(intake)).worker_id
        events = await run_to_end(runtime, ready, intake_input(TICKET, "Greet", BODY, "op-0"))
        waiting = (await runtime.create_worker(intake)).worker_id
        body = "Not yet.\nDemo: not ready\n"
        refused = await run_to_end(runtime, waiting, intake_input(TICKET, "Greet", body, "op-0"))

    assert not finished(events)["submit_intent"].is_error
    answer = arguments(events, "submit_intent")
    assert answer["implementation_ready"] is True
    assert answer["intent"] == ["Greet"]
    assert answer["requirements"] == ["Make greet.py greet."]
    assert not finished(refused)["submit_intent"].is_error
    assert arguments(refused, "submit_intent")["implementation_ready"] is False


def test_demo_playbook_is_chosen_only_by_name() -> None:
    choice = select_model("demo:playbook", ModelSettings(), {})
    assert choice.demo
    assert not choice.offline
    assert build_model(choice, {}).name == DEMO_REFERENCE
    assert not select_model(None, ModelSettings(), {}).demo
    assert not select_model(None, ModelSettings(), {"OPENAI_API_KEY": "k"}).demo
    with pytest.raises(ModelUnavailable, match="demo:playbook"):
        select_model("demo:other", ModelSettings(), {})


# -- the inputs and the blocks --------------------------------------------------------------------


def test_the_inputs_the_orchestrator_sends_read_back() -> None:
    body = "Line one.\n\n<<< a.txt\nA\n>>>"
    assert read_ask(intake_input(TICKET, "T", body, "op")) == Ask(AskKind.INTAKE, TICKET)
    assert read_ask(implement(body)) == Ask(AskKind.IMPLEMENT, TICKET)
    assert read_ask(fix_input(TICKET, FixReason.VALIDATION, ["log"], "op")) == Ask(
        AskKind.FIX, TICKET, "validation"
    )
    review = review_input(TICKET, "T: colon", body, INTENT, "c0ffee", "base", "op")
    assert read_ask(review) == Ask(AskKind.REVIEW, TICKET)
    ticket = read_ticket(review, TICKET)
    assert ticket is not None
    assert ticket.title == "T: colon"
    assert ticket.blocks == (FileBlock("a.txt", "A\n"),)
    assert ticket.prose() == ["Line one."]
    assert read_ticket(review, "01KOTHER") is None


def test_a_bad_block_is_skipped_and_its_neighbours_are_kept() -> None:
    body = "<<< ../up.txt\nno\n>>>\n<<< ok.txt\nyes\n>>>\n<<< .git/config\nno\n>>>\n<<< open.txt\n"
    assert parse_blocks(body) == (FileBlock("ok.txt", "yes\n"),)


_SEGMENT = st.text(
    st.characters(codec="utf-8", categories=["L", "N"], include_characters="._-"),
    min_size=1,
    max_size=12,
).filter(lambda part: part not in {".", ".."})
_PATHS = (
    st.lists(_SEGMENT, min_size=1, max_size=4)
    .map("/".join)
    .filter(lambda path: path.split("/")[0] not in {".git", ".yoi", ".worktree"})
)
_LINES = st.lists(st.text(max_size=30).filter(lambda line: "\n" not in line and line != ">>>"))
_BLOCKS = st.lists(
    st.builds(
        FileBlock, _PATHS, _LINES.map(lambda ls: "".join(f"{x}\n" for x in ls)), st.booleans()
    ),
    max_size=5,
)


@given(_BLOCKS)
def test_any_blocks_rendered_parse_back_exactly(blocks: list[FileBlock]) -> None:
    assert parse_blocks(render_blocks(blocks)) == tuple(blocks)


@given(st.text(), _BLOCKS)
def test_prose_before_blocks_changes_none_of_them(prose: str, blocks: list[FileBlock]) -> None:
    lead = "\n".join(line for line in prose.split("\n") if not line.startswith("<<<"))
    assert parse_blocks(f"{lead}\n{render_blocks(blocks)}") == tuple(blocks)


@given(st.text())
def test_no_text_makes_the_readers_raise(text: str) -> None:
    parse_blocks(text)
    read_ask(text)
    found = read_ticket(f"## Ticket\n{TICKET}: t\n\n{text}", TICKET)
    assert found is not None
    found.prose()
    found.says("not ready")


# -- through the real loop --------------------------------------------------------------------


async def test_two_tickets_on_the_same_lines_end_done_through_a_conflict_fix(
    tmp_path: Path,
) -> None:
    root = make_repository(tmp_path / "repo")
    both = "print('one')\nprint('two')\n"
    model = DemoModel()
    async with orchestrator_stack(root, intake_model=model, work_model=model) as stack:
        made = [
            queue(
                stack.tickets, f"Say {word}", f"<<< app.py\n{line}>>>\n<<<fix app.py\n{both}>>>\n"
            )
            for word, line in (("uno", "print('uno')\n"), ("dos", "print('dos')\n"))
        ]
        stack.orchestrator.wake()
        await stack.until(lambda: all(_over(stack, ticket) for ticket in made), 120)
        runs = [stack.run(ticket) for ticket in made]

    assert [run.phase for run in runs] == [Phase.DONE, Phase.DONE]
    assert sorted(run.fix_rounds for run in runs) == [0, 1]
    assert git(root, "show", "orchestration:app.py") == both
    subjects = git(root, "log", "--format=%s", "orchestration").splitlines()
    assert len([s for s in subjects if s.endswith(": fix conflict")]) == 1


def _over(stack: Stack, ticket: str) -> bool:
    run = stack.orchestrator.run(ticket)
    return run is not None and run.phase.over
