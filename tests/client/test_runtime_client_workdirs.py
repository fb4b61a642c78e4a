"""RuntimeClient's workdir calls and workdir workers, against a real runtime served on loopback:
what the client reads back is what the runtime holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.client.test_runtime_client import remote
from tests.git_repo import git, tagged_repo

from yoi.errors import InvalidRequest, UnsupportedOperation, WorkdirNotFound, WorkdirUnmerged
from yoi.runtime import CreateWorkerRequest, GrantRequest, NewWorkdir, Runtime
from yoi.runtime.workdirs import Workdirs


async def test_workdirs_are_made_listed_shown_and_deleted_through_the_client(
    tmp_path: Path,
) -> None:
    repo = tagged_repo(tmp_path / "repo")
    workdirs = Workdirs(repositories=[repo], folder=tmp_path / "worktrees")
    async with Runtime(workdirs=workdirs) as runtime, remote(runtime) as client:
        made = await client.create_workdir(str(repo), "v1", branch="work/one")
        assert made["branch"] == "work/one"
        assert made["base_commit"] == git(repo, "rev-parse", "v1").strip()
        workdir_id = str(made["workdir_id"])
        assert [item["workdir_id"] for item in await client.list_workdirs()] == [workdir_id]
        assert (await client.get_workdir(workdir_id))["state"] == "present"
        path = workdirs.path(workdir_id)
        (path / "new.txt").write_text("x\n")
        git(path, "add", "new.txt")
        git(path, "commit", "-q", "-m", "New")
        with pytest.raises(WorkdirUnmerged):
            await client.delete_workdir(workdir_id)
        deleted = await client.delete_workdir(workdir_id, force=True)
        assert deleted == {
            "workdir_id": workdir_id,
            "worktree_removed": True,
            "branch_deleted": True,
        }
        with pytest.raises(WorkdirNotFound):
            await client.get_workdir(workdir_id)
        with pytest.raises(InvalidRequest):
            await client.create_workdir(str(tmp_path), "HEAD")


async def test_a_worker_made_with_a_new_workdir_and_a_grant_reads_back_whole(
    tmp_path: Path,
) -> None:
    repo = tagged_repo(tmp_path / "repo")
    workdirs = Workdirs(repositories=[repo], folder=tmp_path / "worktrees")
    async with Runtime(workdirs=workdirs) as runtime, remote(runtime) as client:
        request = CreateWorkerRequest(
            profile="builtin:coder",
            workdir=NewWorkdir(base="v1", branch="coder/a"),
            grant=GrantRequest(("read", "edit"), ("src",)),
        )
        made = await client.create_worker(request)
        assert made.to_dict() == (await runtime.get_worker(made.worker_id)).to_dict()
        assert made.grant is not None
        assert made.grant.paths == ("src",)
        assert sorted(made.tools)[:3] == ["edit_file", "git_diff", "git_log"]
        again = await client.create_worker(
            CreateWorkerRequest(profile="builtin:reviewer", workdir=made.workdir)
        )
        assert again.workdir == made.workdir
        summary = await client.summary()
        assert summary.sandbox == (await runtime.summary()).sandbox


async def test_a_runtime_without_workdirs_refuses_a_workdir_worker_through_the_client() -> None:
    async with Runtime() as runtime, remote(runtime) as client:
        with pytest.raises(UnsupportedOperation):
            await client.create_worker(CreateWorkerRequest(workdir=NewWorkdir()))
        with pytest.raises(UnsupportedOperation):
            await client.list_workdirs()
