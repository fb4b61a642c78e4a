"""Workdirs against real temporary repositories: made, shown, refused, deleted, reopened."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import InvalidRequest, WorkdirExists, WorkdirNotFound, WorkdirUnmerged
from yoi.runtime import Runtime
from yoi.runtime.stores import FsStore
from yoi.runtime.workdirs import FsLedger, Workdirs, WorktreeState
from yoi.runtime.workdirs.repository import Repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tagged_repo(tmp_path / "repo")
    (root / "app.py").write_text("print('two')\n" * 1000)
    git(root, "commit", "-q", "-am", "Second")
    return root


def open_workdirs(repo: Path, tmp_path: Path, *, durable: bool = True) -> Workdirs:
    ledger = FsLedger(tmp_path / "state" / "workdirs") if durable else None
    return Workdirs(repositories=[repo], folder=tmp_path / "worktrees", ledger=ledger)


@pytest.fixture
async def workdirs(repo: Path, tmp_path: Path) -> AsyncIterator[Workdirs]:
    found = open_workdirs(repo, tmp_path)
    await found.open()
    yield found
    await found.close()


def commit_in(path: Path, message: str) -> str:
    (path / "new.txt").write_text(message)
    git(path, "add", "new.txt")
    git(path, "commit", "-q", "-m", message)
    return git(path, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("base", ["main", "v1", "HEAD~1"])
async def test_a_workdir_is_made_at_a_branch_a_tag_or_a_commit(
    workdirs: Workdirs, repo: Path, base: str
) -> None:
    made = await workdirs.create(str(repo), base)
    expected = git(repo, "rev-parse", f"{base}^{{commit}}").strip()
    assert made.record.base_ref == base
    assert made.record.base_commit == made.head == expected
    assert made.record.branch is None
    assert made.state is WorktreeState.PRESENT
    assert made.record.workdir_id.startswith("wd-")
    path = workdirs.path(made.record.workdir_id)
    assert path.parent == (repo.parent / "worktrees").resolve()
    assert git(path, "rev-parse", "HEAD").strip() == expected


async def test_a_workdir_on_a_new_branch_checks_that_branch_out(
    workdirs: Workdirs, repo: Path
) -> None:
    made = await workdirs.create(str(repo), "v1", branch="work/feature-1")
    path = workdirs.path(made.record.workdir_id)
    assert git(path, "symbolic-ref", "HEAD").strip() == "refs/heads/work/feature-1"
    assert made.record.branch == "work/feature-1"
    assert made.to_dict()["branch"] == "work/feature-1"


async def test_a_commit_given_by_its_hash_is_a_base(workdirs: Workdirs, repo: Path) -> None:
    first = git(repo, "rev-parse", "v1").strip()
    made = await workdirs.create(str(repo), first[:12])
    assert made.record.base_commit == first


@pytest.mark.parametrize(
    "repository", ["relative/path", "/", "/nonexistent/repo", "", "/tmp/../etc"]
)
async def test_a_repository_not_allowed_is_an_invalid_request(
    workdirs: Workdirs, repository: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await workdirs.create(repository, "main")
    assert raised.value.code == "invalid_request"


async def test_another_real_repository_is_refused_too(workdirs: Workdirs, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    with pytest.raises(InvalidRequest, match="not one this runtime may"):
        await workdirs.create(str(other), "HEAD")


@pytest.mark.parametrize(
    "base",
    ["--output=x", "-h", "nope", "main^{tree}", "main\x00", "a" * 2000, "\udc80", "main..v1"],
)
async def test_a_base_that_names_no_commit_is_refused_and_git_runs_no_option(
    workdirs: Workdirs, repo: Path, tmp_path: Path, base: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await workdirs.create(str(repo), base)
    assert raised.value.code == "invalid_request"
    assert not (repo / "x").exists()
    assert not list((tmp_path / "worktrees").iterdir())


@pytest.mark.parametrize("base", ["--output=x", "-h", "--git-dir=/tmp", "-"])
async def test_git_itself_reads_an_option_like_base_only_as_a_revision(
    repo: Path, base: str
) -> None:
    with pytest.raises(InvalidRequest, match="names no commit"):
        await Repository(repo).resolve(base)
    assert sorted(os.listdir(repo)) == [".git", "app.py"]


@pytest.mark.parametrize(
    "branch", ["", "-b", "a..b", "a b", "@{-1}", "x.lock", "a~1", "refs/../x", "a*", "HEAD", "\x00"]
)
async def test_a_bad_branch_name_is_refused(workdirs: Workdirs, repo: Path, branch: str) -> None:
    with pytest.raises(InvalidRequest):
        await workdirs.create(str(repo), "main", branch=branch)
    assert git(repo, "branch", "--list").split() == ["*", "main"]


async def test_an_existing_branch_is_refused(workdirs: Workdirs, repo: Path) -> None:
    with pytest.raises(InvalidRequest, match="already exists"):
        await workdirs.create(str(repo), "v1", branch="main")


async def test_list_shows_every_workdir_with_its_disk_use(workdirs: Workdirs, repo: Path) -> None:
    first = await workdirs.create(str(repo), "v1")
    second = await workdirs.create(str(repo), "main")
    listed = await workdirs.list()
    assert [item.record.workdir_id for item in listed] == [
        first.record.workdir_id,
        second.record.workdir_id,
    ]
    small, large = listed
    assert small.disk_complete
    assert large.disk_complete
    assert 0 < small.disk_bytes < large.disk_bytes  # the second commit's file is 13 KB
    body = large.to_dict()
    assert set(body) == {
        "workdir_id", "repository", "base_ref", "base_commit", "branch", "created_at",
        "state", "head", "disk_bytes", "disk_complete", "unmerged",
    }  # fmt: skip
    assert body["state"] == "present"
    assert body["unmerged"] == 0


async def test_disk_use_does_not_follow_a_link_out(
    workdirs: Workdirs, repo: Path, tmp_path: Path
) -> None:
    made = await workdirs.create(str(repo), "v1")
    path = workdirs.path(made.record.workdir_id)
    before = (await workdirs.get(made.record.workdir_id)).disk_bytes
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"x" * 1_000_000)
    (path / "link").symlink_to(outside)
    after = await workdirs.get(made.record.workdir_id)
    assert after.disk_bytes - before < 100_000


async def test_unmerged_counts_commits_no_other_ref_holds(workdirs: Workdirs, repo: Path) -> None:
    detached = await workdirs.create(str(repo), "v1")
    branched = await workdirs.create(str(repo), "main", branch="work/one")
    commit_in(workdirs.path(detached.record.workdir_id), "one")
    commit_in(workdirs.path(detached.record.workdir_id), "two")
    tip = commit_in(workdirs.path(branched.record.workdir_id), "three")
    assert (await workdirs.get(detached.record.workdir_id)).unmerged == 2
    assert (await workdirs.get(branched.record.workdir_id)).unmerged == 1
    git(repo, "branch", "kept", tip)  # now another branch holds it
    assert (await workdirs.get(branched.record.workdir_id)).unmerged == 0


async def test_delete_refuses_unmerged_commits_until_forced(workdirs: Workdirs, repo: Path) -> None:
    made = await workdirs.create(str(repo), "main", branch="work/two")
    workdir_id = made.record.workdir_id
    path = workdirs.path(workdir_id)
    commit_in(path, "work")
    with pytest.raises(WorkdirUnmerged) as raised:
        await workdirs.delete(workdir_id)
    assert raised.value.details == {"unmerged": 1}
    assert path.is_dir()
    assert "work/two" in git(repo, "branch", "--list")
    deleted = await workdirs.delete(workdir_id, force=True)
    assert deleted.worktree_removed
    assert deleted.branch_deleted
    assert not path.exists()
    assert "work/two" not in git(repo, "branch", "--list")
    assert str(path) not in git(repo, "worktree", "list")
    with pytest.raises(WorkdirNotFound):
        await workdirs.get(workdir_id)


async def test_delete_of_a_merged_workdir_needs_no_force(workdirs: Workdirs, repo: Path) -> None:
    made = await workdirs.create(str(repo), "v1", branch="work/three")
    deleted = await workdirs.delete(made.record.workdir_id)
    assert deleted.to_dict() == {
        "workdir_id": made.record.workdir_id,
        "worktree_removed": True,
        "branch_deleted": True,
    }
    assert await workdirs.list() == []


async def test_a_worktree_deleted_by_hand_is_reported_and_its_record_cleaned(
    workdirs: Workdirs, repo: Path
) -> None:
    made = await workdirs.create(str(repo), "v1")
    path = workdirs.path(made.record.workdir_id)
    shutil.rmtree(path)
    found = await workdirs.get(made.record.workdir_id)
    assert found.state is WorktreeState.MISSING
    assert found.disk_bytes == 0
    deleted = await workdirs.delete(made.record.workdir_id)
    assert not deleted.worktree_removed
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert await workdirs.list() == []


@pytest.mark.parametrize("workdir_id", ["wd-unknown", "../x", "WD", ""])
async def test_an_unknown_or_malformed_id_is_refused(workdirs: Workdirs, workdir_id: str) -> None:
    with pytest.raises((WorkdirNotFound, InvalidRequest)) as raised:
        await workdirs.get(workdir_id)
    expected = "workdir_not_found" if workdir_id == "wd-unknown" else "invalid_request"
    assert raised.value.code == expected
    with pytest.raises((WorkdirNotFound, InvalidRequest)):
        await workdirs.delete(workdir_id)


async def test_records_survive_a_reopen(repo: Path, tmp_path: Path) -> None:
    first = open_workdirs(repo, tmp_path)
    await first.open()
    made = await first.create(str(repo), "v1", branch="work/kept")
    await first.close()
    again = open_workdirs(repo, tmp_path)
    await again.open()
    found = await again.get(made.record.workdir_id)
    assert found.record == made.record
    assert found.state is WorktreeState.PRESENT
    assert again.sweep() == ()
    await again.delete(made.record.workdir_id)
    await again.close()
    third = open_workdirs(repo, tmp_path)
    await third.open()
    assert await third.list() == []


async def test_the_sweep_reports_a_worktree_no_record_owns(
    workdirs: Workdirs, repo: Path, tmp_path: Path
) -> None:
    made = await workdirs.create(str(repo), "v1")
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "worktrees" / "stray"), "v1")
    assert workdirs.sweep() == ("stray",)
    assert (tmp_path / "worktrees" / "stray").is_dir()  # reported, never deleted
    assert made.record.workdir_id not in workdirs.sweep()


async def test_a_record_file_that_cannot_be_read_is_a_problem_not_a_failure(
    repo: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "state" / "workdirs"
    ledger.mkdir(parents=True)
    (ledger / "wd-broken.json").write_text('{"workdir_id": "wd-broken"')
    workdirs = open_workdirs(repo, tmp_path)
    await workdirs.open()
    assert [problem.name for problem in workdirs.problems] == ["wd-broken.json"]
    assert await workdirs.list() == []


async def test_memory_workdirs_end_with_their_runtime_but_keep_unmerged_work(
    repo: Path, tmp_path: Path
) -> None:
    workdirs = open_workdirs(repo, tmp_path, durable=False)
    await workdirs.open()
    plain = await workdirs.create(str(repo), "v1")
    worked = await workdirs.create(str(repo), "v1")
    commit_in(workdirs.path(worked.record.workdir_id), "kept")
    await workdirs.close()
    left = sorted(path.name for path in (tmp_path / "worktrees").iterdir())
    assert left == [worked.record.workdir_id]
    assert plain.record.workdir_id not in git(repo, "worktree", "list")


async def test_beside_an_fs_store_keeps_everything_under_its_root(
    repo: Path, tmp_path: Path
) -> None:
    workdirs = Workdirs.beside(FsStore(tmp_path / "store"), [repo])
    await workdirs.open()
    made = await workdirs.create(str(repo), "main")
    assert workdirs.path(made.record.workdir_id).parent == (tmp_path / "store" / "worktrees")
    assert (tmp_path / "store" / "workdirs" / f"{made.record.workdir_id}.json").is_file()
    await workdirs.close()
    assert (tmp_path / "store" / "worktrees" / made.record.workdir_id).is_dir()  # it is kept


async def test_a_runtime_on_an_fs_store_finds_its_workdirs_after_a_restart(
    repo: Path, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    first = FsStore(root)
    async with Runtime(store=first, workdirs=Workdirs.beside(first, [repo])) as runtime:
        assert runtime.workdirs is not None
        made = await runtime.workdirs.create(str(repo), "v1", branch="work/restart")
    store = FsStore(root)
    async with Runtime(store=store, workdirs=Workdirs.beside(store, [repo])) as again:
        assert again.workdirs is not None
        found = await again.workdirs.get(made.record.workdir_id)
        assert found.record == made.record
        assert found.state is WorktreeState.PRESENT
        assert [d.code for d in await again.diagnostics()] == ["offline_model"]


async def test_a_named_workdir_is_made_under_that_name_once(workdirs: Workdirs, repo: Path) -> None:
    made = await workdirs.create(str(repo), "main", branch="work/A-one", workdir_id="a-one")
    assert made.record.workdir_id == "a-one"
    assert workdirs.path("a-one").name == "a-one"
    placement = await workdirs.placement("a-one")
    assert (placement.git_dir / "HEAD").is_file()
    with pytest.raises(WorkdirExists):
        await workdirs.create(str(repo), "main", workdir_id="a-one")
    with pytest.raises(InvalidRequest):
        await workdirs.create(str(repo), "main", workdir_id="Upper/../x")


async def test_a_shared_folder_inside_the_checkout_is_excluded_and_not_swept(
    repo: Path, tmp_path: Path
) -> None:
    shared = Workdirs(repositories=[repo], folder=repo / ".worktree", shared=True)
    await shared.open()
    try:
        (repo / ".worktree" / "someone-elses").mkdir()
        made = await shared.create(str(repo), "main", workdir_id="mine")
        assert shared.sweep() == ()
        assert git(repo, "status", "--porcelain").strip() == ""
        placement = await shared.placement(made.record.workdir_id)
        assert placement.path == (repo / ".worktree" / "mine").resolve()
    finally:
        await shared.close()


async def test_a_spare_worktree_is_the_next_workdir_holding_only_its_commit(
    repo: Path, tmp_path: Path
) -> None:
    spares = Workdirs(repositories=[repo], folder=tmp_path / "trees", spares=1)
    await spares.open()
    try:
        first = await spares.create(str(repo), "v1", branch="work/one", workdir_id="one")
        path = spares.path("one")
        (path / "stale.txt").write_text("untracked\n")
        (path / ".cache").mkdir()
        (path / ".cache" / "x").write_text("ignored or not, it goes\n")
        (path / "app.py").write_text("changed, never committed\n")
        assert first.record.branch == "work/one"
        await spares.delete("one", force=True)
        assert git(repo, "branch", "--list", "work/one").strip() == ""
        kept = [p.name for p in (tmp_path / "trees").iterdir()]
        assert len(kept) == 1
        assert kept[0].startswith(".spare-")
        assert spares.sweep() == ()
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
        second = await spares.create(str(repo), "main", branch="work/two", workdir_id="two")
        fresh = spares.path("two")
        assert second.head == git(repo, "rev-parse", "main").strip()
        assert git(fresh, "symbolic-ref", "HEAD").strip() == "refs/heads/work/two"
        assert git(fresh, "status", "--porcelain", "--ignored").strip() == ""
        assert not (fresh / "stale.txt").exists()
        assert (fresh / "app.py").read_text() == (repo / "app.py").read_text()
        placement = await spares.placement("two")
        assert (placement.git_dir / "HEAD").read_text().strip() == "ref: refs/heads/work/two"
        assert [p.name for p in (tmp_path / "trees").iterdir()] == ["two"]
    finally:
        await spares.close()


async def test_spares_are_found_again_after_a_restart(repo: Path, tmp_path: Path) -> None:
    ledger = FsLedger(tmp_path / "records")
    before = Workdirs(repositories=[repo], folder=tmp_path / "trees", ledger=ledger, spares=2)
    await before.open()
    await before.create(str(repo), "main", workdir_id="one")
    await before.delete("one")
    await before.close()
    after = Workdirs(repositories=[repo], folder=tmp_path / "trees", ledger=ledger, spares=2)
    await after.open()
    await after.create(str(repo), "v1", workdir_id="two")
    assert [p.name for p in (tmp_path / "trees").iterdir()] == ["two"]
    assert (
        git(after.path("two"), "rev-parse", "HEAD").strip()
        == git(repo, "rev-parse", "v1^{commit}").strip()
    )


async def test_a_stale_index_lock_left_by_a_killed_git_is_removed_at_open(
    repo: Path, tmp_path: Path
) -> None:
    before = open_workdirs(repo, tmp_path)
    await before.open()
    await before.create(str(repo), "main", branch="work/lock", workdir_id="lock")
    gitdir = (await before.placement("lock")).git_dir
    (gitdir / "index.lock").write_text("")  # what a git killed mid-commit leaves
    after = open_workdirs(repo, tmp_path)
    await after.open()
    assert not (gitdir / "index.lock").exists()
    path = after.path("lock")
    (path / "new.txt").write_text("x\n")
    git(path, "add", "new.txt")  # would fail on the lock
