"""The worktree lock: adds and prunes of one repository take it, in turn, across opens."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import WorkdirFailed
from yoi.runtime.workdirs import Workdirs
from yoi.runtime.workdirs.admin_lock import LOCK_NAME, worktree_admin
from yoi.runtime.workdirs.repository import REMOVING, Repository
from yoi.tools.git_runner import GitSettings

DEADLINE = 30.0


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "repo")


async def test_an_add_waits_while_another_holds_the_lock_then_makes_the_worktree(
    repo: Path, tmp_path: Path
) -> None:
    repository = Repository(repo)
    common = await repository.common_dir()
    path = tmp_path / "tree"
    async with worktree_admin(common, within=DEADLINE):
        adding = asyncio.create_task(repository.add(path, "main", "work/one"))
        done, _ = await asyncio.wait({adding}, timeout=0.5)
        assert not done  # held: git has not been asked to touch the worktree list
        assert "work/one" not in git(repo, "branch", "--list")
    async with asyncio.timeout(DEADLINE):
        await adding
    assert (common / LOCK_NAME).exists()
    assert git(path, "branch", "--show-current").strip() == "work/one"
    assert git(path, "status", "--porcelain") == ""  # every file written after the add


async def test_a_lock_held_past_the_wait_is_workdir_failed(repo: Path) -> None:
    patient = Repository(repo, GitSettings(timeout=0.2))
    common = await patient.common_dir()
    async with worktree_admin(common, within=DEADLINE):
        with pytest.raises(WorkdirFailed, match=r"stayed locked for 0\.2 s"):
            await patient.prune()
    await patient.prune()  # free again


async def test_an_existing_branch_attached_is_checked_out_whole(repo: Path, tmp_path: Path) -> None:
    git(repo, "branch", "work/two")
    path = tmp_path / "two"
    await Repository(repo).attach(path, "work/two")
    assert git(path, "branch", "--show-current").strip() == "work/two"
    assert git(path, "status", "--porcelain") == ""


async def test_a_removal_cut_short_by_a_crash_is_finished_at_the_next_open(
    repo: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "trees"
    left = folder / f"{REMOVING}wd-gone-0a1b2c3d"
    (left / "src").mkdir(parents=True)
    (left / "src" / "big.txt").write_text("x" * 1000)
    workdirs = Workdirs(repositories=[repo], folder=folder)
    await workdirs.open()
    try:
        assert not left.exists()
        assert workdirs.sweep() == ()
    finally:
        await workdirs.close()


async def test_a_removed_worktree_leaves_no_folder_entry_or_branch_lock(
    repo: Path, tmp_path: Path
) -> None:
    repository = Repository(repo)
    path = tmp_path / "gone"
    await repository.add(path, "main", "work/gone")
    (path / "scratch.txt").write_text("uncommitted\n")
    await repository.remove(path)
    assert sorted(os.listdir(tmp_path)) == ["repo"]
    assert "gone" not in git(repo, "worktree", "list")
    assert await repository.delete_branch("work/gone")  # no worktree holds it any more
