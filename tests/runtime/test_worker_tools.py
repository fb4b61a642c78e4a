"""Workers with workdirs: each holds the tools its grant allows, on its own worktree, and
nothing more — narrowed by its create request, bounded by the host, kept across a restart."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import DuplicateWorker, InvalidRequest, UnsupportedOperation
from yoi.providers.script import Call, Text
from yoi.providers.scripted import ScriptedModel
from yoi.runtime import (
    CreateWorkerRequest,
    FsStore,
    GrantRequest,
    NewWorkdir,
    Role,
    Runtime,
)
from yoi.runtime.events import Event, ToolCallFinishedEvent
from yoi.runtime.workdirs import Workdirs
from yoi.testing.observe import run_to_end
from yoi.tools import Sandbox, SandboxMode

READ_ONLY = ["git_diff", "git_log", "git_show", "git_status", "glob", "grep", "list_files"]
READ_ONLY = sorted([*READ_ONLY, "read_file"])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "repo")


@pytest.fixture
async def sandbox() -> Sandbox:
    return await Sandbox.probe(SandboxMode.BWRAP)


def workdirs_of(repo: Path, tmp_path: Path) -> Workdirs:
    return Workdirs(repositories=[repo], folder=tmp_path / "worktrees")


@pytest.fixture
async def runtime(repo: Path, tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[Runtime]:
    async with Runtime(workdirs=workdirs_of(repo, tmp_path), sandbox=sandbox) as opened:
        yield opened


def coder(**changes: object) -> CreateWorkerRequest:
    base: dict[str, object] = {"profile": "builtin:coder", "workdir": NewWorkdir()}
    return CreateWorkerRequest(**{**base, **changes})  # type: ignore[arg-type]


async def test_a_coder_holds_every_workdir_tool_and_its_report(runtime: Runtime) -> None:
    made = await runtime.create_worker(coder())
    assert made.workdir is not None
    assert made.grant is not None
    assert {bit.value for bit in made.grant.capabilities} == {
        "read", "write", "edit", "glob", "grep", "command", "commit"
    }  # fmt: skip
    assert set(made.tools) == {*READ_ONLY, "write_file", "edit_file", "bash", "git_commit"} | {
        "submit_report"
    }
    shown = made.to_dict()
    assert shown["workdir"] == made.workdir
    assert shown["grant"] == {
        "capabilities": ["command", "commit", "edit", "glob", "grep", "read", "write"],
        "paths": [],
    }


async def test_a_reviewer_is_offered_reading_and_its_verdict_only(runtime: Runtime) -> None:
    assert runtime.workdirs is not None
    made = await runtime.workdirs.create(str(runtime.workdirs.repositories[0]), "HEAD")
    workdir = made.record.workdir_id
    request = CreateWorkerRequest(profile="builtin:reviewer", workdir=workdir)
    reviewer = await runtime.create_worker(request)
    assert sorted(reviewer.tools) == sorted([*READ_ONLY, "submit_review"])
    assert reviewer.workdir == workdir


async def test_a_request_narrows_the_grant_to_bits_and_paths(runtime: Runtime) -> None:
    grant = GrantRequest(("read", "grep"), ("src", "./docs/../src"))
    made = await runtime.create_worker(coder(grant=grant))
    reading = ["git_diff", "git_log", "git_show", "git_status", "grep", "read_file"]
    assert sorted(made.tools) == [*reading, "submit_report"]
    assert made.grant is not None
    assert made.grant.paths == ("src",)


@pytest.mark.parametrize(
    ("grant", "problem"),
    [
        (GrantRequest(("read", "network")), "never widens"),
        (GrantRequest(("read", "root")), "not a capability"),
        (GrantRequest(("read",), ("/etc",)), "absolute"),
        (GrantRequest(("read",), ("../outside",)), "leaves the workdir"),
    ],
)
async def test_a_grant_that_widens_or_escapes_is_refused_and_makes_no_workdir(
    runtime: Runtime, grant: GrantRequest, problem: str
) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        await runtime.create_worker(coder(grant=grant))
    assert runtime.workdirs is not None
    assert await runtime.workdirs.list() == []


async def test_a_grant_needs_a_workdir(runtime: Runtime) -> None:
    request = CreateWorkerRequest(profile="builtin:coder", grant=GrantRequest(("read",)))
    with pytest.raises(InvalidRequest, match="workdir"):
        await runtime.create_worker(request)


async def test_a_workdir_made_for_a_worker_that_is_not_created_is_removed(
    runtime: Runtime,
) -> None:
    await runtime.create_worker(coder(worker_id="taken"))
    with pytest.raises(DuplicateWorker):
        await runtime.create_worker(coder(worker_id="taken"))
    assert runtime.workdirs is not None
    assert len(await runtime.workdirs.list()) == 1


async def test_a_runtime_without_workdirs_offers_no_file_or_shell_tools() -> None:
    async with Runtime() as runtime:
        summary = await runtime.summary()
        assert summary.tools == ("submit_intent", "submit_report", "submit_review")
        assert summary.sandbox is None
        plain = await runtime.create_worker(CreateWorkerRequest(profile="builtin:coder"))
        assert plain.tools == ("submit_report",)
        assert plain.grant is None
        with pytest.raises(UnsupportedOperation, match="no workdirs"):
            await runtime.create_worker(coder())


async def test_the_summary_lists_the_tools_offered_and_the_sandbox(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    summary = await runtime.summary()
    assert "bash" in summary.tools
    assert "write_file" in summary.tools
    assert summary.sandbox is not None
    assert (summary.sandbox.mode, summary.sandbox.available) == ("bwrap", True)
    assert summary.to_dict()["sandbox"] == {"mode": "bwrap", "available": True, "diagnostic": ""}


async def test_without_a_working_sandbox_there_is_no_bash_and_the_runtime_says_why(
    repo: Path, tmp_path: Path
) -> None:
    broken = await Sandbox.probe(SandboxMode.BWRAP, bwrap=str(tmp_path / "no-bwrap"))
    async with Runtime(workdirs=workdirs_of(repo, tmp_path), sandbox=broken) as runtime:
        made = await runtime.create_worker(coder())
        assert "bash" not in made.tools
        assert "write_file" in made.tools
        summary = await runtime.summary()
        assert "bash" not in summary.tools
        codes = [item.code for item in await runtime.diagnostics()]
        assert "sandbox_unavailable" in codes


async def test_an_unconfined_sandbox_is_shown_as_a_warning(repo: Path, tmp_path: Path) -> None:
    unconfined = await Sandbox.probe(SandboxMode.NONE)
    async with Runtime(workdirs=workdirs_of(repo, tmp_path), sandbox=unconfined) as runtime:
        summary = await runtime.summary()
        assert summary.sandbox is not None
        assert summary.sandbox.mode == "none"
        assert "unconfined" in summary.sandbox.diagnostic
        assert "sandbox_none" in [item.code for item in await runtime.diagnostics()]


def results(events: list[Event]) -> list[tuple[str, bool, str]]:
    found = []
    for event in events:
        body = event.event
        if isinstance(body, ToolCallFinishedEvent):
            found.append((body.name, body.is_error, body.summary))
    return found


async def test_a_scripted_coder_reads_edits_tests_and_commits_in_its_workdir(
    repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    model = ScriptedModel(
        [
            [Call("read_file", {"path": "app.py"})],
            [Call("edit_file", {"path": "app.py", "old_string": "one", "new_string": "two"})],
            [Call("bash", {"command": "python3 app.py | grep -q two && echo tests pass"})],
            [Call("git_commit", {"message": "Say two", "paths": ["app.py"]})],
            [Call("submit_report", {"summary": "two", "files": ["app.py"], "commands": []})],
            [Text("done")],
        ]
    )
    workdirs = workdirs_of(repo, tmp_path)
    async with Runtime(model=model, workdirs=workdirs, sandbox=sandbox) as runtime:
        made = await runtime.create_worker(coder(workdir=NewWorkdir(branch="coder/two")))
        events = await run_to_end(runtime, made.worker_id, "make app.py say two")
    finished = results(events)
    assert [(name, error) for name, error, _ in finished] == [
        ("read_file", False),
        ("edit_file", False),
        ("bash", False),
        ("git_commit", False),
        ("submit_report", False),
    ], finished
    assert git(repo, "show", "coder/two:app.py") == "print('two')\n"
    assert git(repo, "log", "-1", "--format=%s", "coder/two").strip() == "Say two"
    assert (repo / "app.py").read_text() == "print('one')\n"  # the checkout is untouched


async def test_a_reviewer_cannot_write_whatever_it_calls(repo: Path, tmp_path: Path) -> None:
    model = ScriptedModel(
        [
            [
                Call("write_file", {"path": "app.py", "content": "x"}),
                Call("bash", {"command": "echo x > app.py"}),
                Call("git_commit", {"message": "sneak", "all": True}),
            ],
            [Text("could not")],
        ]
    )
    async with Runtime(model=model, workdirs=workdirs_of(repo, tmp_path)) as runtime:
        made = await runtime.create_worker(
            CreateWorkerRequest(profile="builtin:reviewer", workdir=NewWorkdir())
        )
        events = await run_to_end(runtime, made.worker_id, "review")
        assert runtime.workdirs is not None
        assert made.workdir is not None
        path = runtime.workdirs.path(made.workdir)
        assert (path / "app.py").read_text() == "print('one')\n"
    finished = results(events)
    assert all(error and "unknown tool" in summary for _, error, summary in finished), finished
    assert len(finished) == 3


async def test_an_fs_store_runtime_gives_a_worker_its_tools_again_after_a_restart(
    repo: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    store_root = tmp_path / "store"

    def reopened() -> Runtime:
        store = FsStore(store_root)
        return Runtime(store=store, workdirs=Workdirs.beside(store, [repo]), sandbox=sandbox)

    async with reopened() as runtime:
        made = await runtime.create_worker(coder(grant=GrantRequest(("read", "edit"))))
    async with reopened() as runtime:
        again = await runtime.get_worker(made.worker_id)
        assert again.workdir == made.workdir
        assert again.grant == made.grant
        assert again.tools == made.tools
        assert [item.code for item in await runtime.diagnostics()] == ["offline_model"]


async def test_a_worktree_deleted_by_hand_leaves_the_worker_usable_and_says_so(
    repo: Path, tmp_path: Path
) -> None:
    store_root = tmp_path / "store"
    model = ScriptedModel([[Text("still here")]])

    def reopened() -> Runtime:
        store = FsStore(store_root)
        return Runtime(store=store, model=model, workdirs=Workdirs.beside(store, [repo]))

    async with reopened() as runtime:
        made = await runtime.create_worker(coder())
        assert made.workdir is not None
        assert runtime.workdirs is not None
        shutil.rmtree(runtime.workdirs.path(made.workdir))
    async with reopened() as runtime:
        problems = [d for d in await runtime.diagnostics() if d.code == "worker_tools"]
        assert len(problems) == 1
        assert made.workdir in problems[0].message
        assert problems[0].worker_id == made.worker_id
        await run_to_end(runtime, made.worker_id, "hello?")
        page = await runtime.transcript(made.worker_id)
        assert [entry.role for entry in page.items][-1] is Role.ASSISTANT


async def test_tool_arguments_that_are_not_json_are_a_result_not_a_crash(
    repo: Path, tmp_path: Path
) -> None:
    model = ScriptedModel(
        [[Call("read_file", "{not json"), Call("read_file", json.dumps(["app.py"]))], [Text("ok")]]
    )
    async with Runtime(model=model, workdirs=workdirs_of(repo, tmp_path)) as runtime:
        made = await runtime.create_worker(coder())
        events = await run_to_end(runtime, made.worker_id, "read")
    finished = results(events)
    assert [error for _, error, _ in finished] == [True, True]
    assert "not valid JSON" in finished[0][2] or "not valid JSON" in finished[1][2]
