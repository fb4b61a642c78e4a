"""Workdirs made and deleted side by side: git runs outside any lock, claims keep names apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import InvalidRequest, WorkdirExists, WorkdirFailed, WorkdirNotFound
from yoi.runtime.workdirs import FsLedger, Workdirs, WorktreeState

DEADLINE = 60.0
MANY = 6


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "repo")


async def opened(repo: Path, tmp_path: Path, spares: int = 0) -> Workdirs:
    ledger = FsLedger(tmp_path / "state" / "workdirs")
    found = Workdirs(repositories=[repo], folder=tmp_path / "trees", ledger=ledger, spares=spares)
    await found.open()
    return found


async def test_many_made_at_once_are_each_a_worktree_on_its_own_branch(
    repo: Path, tmp_path: Path
) -> None:
    workdirs = await opened(repo, tmp_path)
    try:
        async with asyncio.timeout(DEADLINE):
            made = await asyncio.gather(
                *(workdirs.create(str(repo), "main", branch=f"work/{n}") for n in range(MANY))
            )
        ids = {workdir.record.workdir_id for workdir in made}
        assert len(ids) == MANY
        assert all(workdir.state is WorktreeState.PRESENT for workdir in made)
        for workdir in made:
            head = git(workdirs.path(workdir.record.workdir_id), "branch", "--show-current")
            assert head.strip() == workdir.record.branch
        listed = await workdirs.list()
        assert {workdir.record.workdir_id for workdir in listed} == ids
        assert workdirs.sweep() == ()
    finally:
        await workdirs.close()


async def test_made_and_deleted_at_once_through_spares_leaves_no_stray_worktree(
    repo: Path, tmp_path: Path
) -> None:
    workdirs = await opened(repo, tmp_path, spares=2)
    try:
        async with asyncio.timeout(DEADLINE):
            first = [await workdirs.create(str(repo), "main") for _ in range(MANY)]
            await asyncio.gather(
                *(workdirs.delete(w.record.workdir_id, force=True) for w in first),
                *(workdirs.create(str(repo), "v1", branch=f"next/{n}") for n in range(MANY)),
            )
        listed = await workdirs.list()
        assert sorted(w.record.branch or "" for w in listed) == [f"next/{n}" for n in range(MANY)]
        assert all(w.state is WorktreeState.PRESENT for w in listed)
        spares = sorted(p.name for p in (tmp_path / "trees").iterdir() if p.name[0] == ".")
        assert len(spares) <= 2  # never more kept than the limit, however many ended at once
        known = git(repo, "worktree", "list", "--porcelain")
        assert known.count("worktree ") == 1 + MANY  # the checkout and the six, nothing else
    finally:
        await workdirs.close()


@pytest.mark.parametrize(
    ("asked", "refusal"),
    [({"workdir_id": "twin"}, WorkdirExists), ({"branch": "work/same"}, InvalidRequest)],
    ids=["name", "branch"],
)
async def test_one_name_or_branch_asked_for_twice_at_once_is_made_once(
    repo: Path, tmp_path: Path, asked: dict[str, str], refusal: type[Exception]
) -> None:
    workdirs = await opened(repo, tmp_path)
    try:
        async with asyncio.timeout(DEADLINE):
            results = await asyncio.gather(
                workdirs.create(str(repo), "main", **asked),
                workdirs.create(str(repo), "main", **asked),
                return_exceptions=True,
            )
        failures = [r for r in results if isinstance(r, Exception)]
        assert [type(f) for f in failures] == [refusal], results
        assert len(await workdirs.list()) == 1
    finally:
        await workdirs.close()


async def test_one_workdir_deleted_twice_at_once_is_deleted_once(
    repo: Path, tmp_path: Path
) -> None:
    workdirs = await opened(repo, tmp_path)
    try:
        made = await workdirs.create(str(repo), "main", workdir_id="once")
        async with asyncio.timeout(DEADLINE):
            results = await asyncio.gather(
                workdirs.delete(made.record.workdir_id),
                workdirs.delete(made.record.workdir_id),
                return_exceptions=True,
            )
        failures = [r for r in results if isinstance(r, Exception)]
        assert [type(f) for f in failures] == [WorkdirFailed], results
        with pytest.raises(WorkdirNotFound):
            await workdirs.get("once")
        assert not (tmp_path / "trees" / "once").exists()
    finally:
        await workdirs.close()
