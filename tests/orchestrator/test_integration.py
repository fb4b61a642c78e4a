"""The integration branch and ticket worktrees, on real temporary repositories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo

from yoi.errors import (
    IntegrationBranchBusy,
    InvalidRequest,
    StateConflict,
    WorkdirFailed,
    WorkdirUnmerged,
)
from yoi.orchestrator.integration import Integration, MergeConflict, Merged, TicketWorkdir
from yoi.orchestrator.integration_names import merge_message
from yoi.orchestrator.validation import run_validation
from yoi.tools.sandbox import Sandbox

ALPHA = "01KAAAAAAAAAA"
BETA = "01KBBBBBBBBBB"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "repo")


@pytest.fixture
async def integration(repo: Path) -> Integration:
    made = Integration(repo)
    await made.ensure()
    return made


def commit_file(path: Path, name: str, text: str) -> str:
    (path / name).write_text(text)
    git(path, "add", name)
    git(path, "commit", "-q", "-m", f"Write {name}")
    return git(path, "rev-parse", "HEAD").strip()


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def status(path: Path) -> str:
    return git(path, "status", "--porcelain", "--untracked-files=all")


async def merged_ticket(integration: Integration, ticket: str, name: str) -> TicketWorkdir:
    """A ticket that wrote ``name``, merged and advanced."""
    work = await integration.prepare_ticket(ticket, f"Write {name}")
    commit = commit_file(work.path, name, f"{name}\n")
    outcome = await integration.merge(commit, merge_message(ticket, f"Write {name}"))
    assert isinstance(outcome, Merged)
    await integration.advance(outcome)
    return work


# -- ensure -------------------------------------------------------------------------


async def test_ensure_makes_the_branch_from_head_in_its_own_worktree(repo: Path) -> None:
    head = rev(repo, "HEAD")
    integration = Integration(repo)
    assert await integration.ensure() == head
    assert rev(repo, "refs/heads/orchestration") == head
    worktree = repo / ".worktree" / "orchestration"
    assert integration.path == worktree
    assert git(worktree, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestration"
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert status(repo) == ""  # .worktree/ is ignored, and not through a tracked file
    exclude = Path(git(repo, "rev-parse", "--git-path", "info/exclude").strip())
    assert "/.worktree/" in (repo / exclude).read_text().splitlines()
    assert not (repo / ".gitignore").exists()
    assert await integration.git_common_dir() == repo / ".git"


async def test_ensure_is_idempotent(repo: Path) -> None:
    integration = Integration(repo)
    first = await integration.ensure()
    assert await Integration(repo).ensure() == first
    exclude = repo / ".git" / "info" / "exclude"
    assert exclude.read_text().splitlines().count("/.worktree/") == 1
    listed = git(repo, "worktree", "list", "--porcelain").count("worktree ")
    assert listed == 2


async def test_an_existing_target_branch_is_used_where_it_is(repo: Path) -> None:
    git(repo, "branch", "integrate", "v1")
    commit_file(repo, "later.txt", "later\n")
    integration = Integration(repo, branch="integrate")
    assert await integration.ensure() == rev(repo, "v1")
    assert integration.path == repo / ".worktree" / "integrate"


async def test_a_target_branch_checked_out_in_the_persons_checkout_is_refused(
    repo: Path,
) -> None:
    git(repo, "checkout", "-q", "-b", "orchestration")
    with pytest.raises(IntegrationBranchBusy) as refused:
        await Integration(repo).ensure()
    assert "the repository's own checkout" in refused.value.message
    assert not (repo / ".worktree").exists()


async def test_a_target_branch_checked_out_in_another_worktree_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "worktree", "add", "-q", "-b", "orchestration", str(tmp_path / "elsewhere"))
    with pytest.raises(IntegrationBranchBusy):
        await Integration(repo).ensure()
    assert not (repo / ".worktree" / "orchestration").exists()


async def test_a_folder_in_the_worktrees_place_is_refused_not_deleted(repo: Path) -> None:
    place = repo / ".worktree" / "orchestration"
    place.mkdir(parents=True)
    (place / "notes.txt").write_text("mine\n")
    with pytest.raises(WorkdirFailed):
        await Integration(repo).ensure()
    assert (place / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("branch", ["work/mine", "bad..name", "-x"])
async def test_a_bad_target_branch_is_an_invalid_request(repo: Path, branch: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await Integration(repo, branch=branch).ensure()
    assert refused.value.details == {"field": "target_branch"}


async def test_a_repository_without_a_commit_is_an_invalid_request(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    with pytest.raises(InvalidRequest) as refused:
        await Integration(empty).ensure()
    assert (
        refused.value.message == "the repository has no commit to start branch orchestration from"
    )
    assert not (empty / ".worktree").exists()


# -- tickets and merges ---------------------------------------------------------------


async def test_a_ticket_worktree_starts_at_the_integration_commit(
    integration: Integration, repo: Path
) -> None:
    work = await integration.prepare_ticket(ALPHA.lower(), "Add the Frobnicator!")
    assert work.ticket_id == ALPHA
    assert work.name == f"{ALPHA}-add-the-frobnicator"
    assert work.branch == f"work/{ALPHA}-add-the-frobnicator"
    assert work.path == repo / ".worktree" / work.name
    assert work.base_commit == await integration.head()
    assert git(work.path, "symbolic-ref", "HEAD").strip() == f"refs/heads/{work.branch}"
    assert status(repo) == ""


async def test_two_tickets_merge_in_order_and_the_branch_moves_only_when_advanced(
    integration: Integration, repo: Path
) -> None:
    start = await integration.head()
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    beta = await integration.prepare_ticket(BETA, "Beta")
    first = commit_file(alpha.path, "alpha.txt", "a\n")
    second = commit_file(beta.path, "beta.txt", "b\n")

    merged = await integration.merge(first, merge_message(ALPHA, "Alpha"))
    assert isinstance(merged, Merged)
    assert (merged.previous, merged.merged) == (start, first)
    assert await integration.head() == start  # not validated yet
    assert (integration.path / "alpha.txt").read_text() == "a\n"
    await integration.advance(merged)
    assert await integration.head() == merged.commit

    again = await integration.merge(second, merge_message(BETA, "Beta"))
    assert isinstance(again, Merged)
    assert again.previous == merged.commit
    await integration.advance(again)

    log = git(repo, "log", "--first-parent", "--format=%s|%an|%P", "orchestration")
    lines = log.splitlines()
    assert lines[0] == f"merge: {BETA} Beta|yoi-orchestrator|{merged.commit} {second}"
    assert lines[1] == f"merge: {ALPHA} Alpha|yoi-orchestrator|{start} {first}"
    assert git(integration.path, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestration"
    assert status(integration.path) == ""
    assert rev(repo, "main") == start


async def test_a_merge_waiting_for_validation_survives_a_restart_and_is_not_made_twice(
    integration: Integration, repo: Path
) -> None:
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    beta = await integration.prepare_ticket(BETA, "Beta")
    first = commit_file(alpha.path, "alpha.txt", "a\n")
    second = commit_file(beta.path, "beta.txt", "b\n")
    merged = await integration.merge(first, "merge: alpha")
    assert isinstance(merged, Merged)

    restarted = Integration(repo)
    assert await restarted.ensure() == merged.previous
    assert await restarted.pending() == merged
    assert await restarted.merge(first, "merge: alpha") == merged
    with pytest.raises(StateConflict):
        await restarted.merge(second, "merge: beta")
    await restarted.advance(merged)
    await restarted.advance(merged)  # twice is harmless
    assert await restarted.pending() is None
    assert await restarted.merge(first, "merge: alpha") == merged  # already on the branch
    assert git(repo, "rev-list", "--count", "--merges", "orchestration").strip() == "1"


async def test_a_conflict_names_its_paths_and_leaves_the_worktree_clean(
    integration: Integration, repo: Path
) -> None:
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    beta = await integration.prepare_ticket(BETA, "Beta")
    first = commit_file(alpha.path, "app.py", "print('alpha')\n")
    second = commit_file(beta.path, "app.py", "print('beta')\n")
    merged = await integration.merge(first, "merge: alpha")
    assert isinstance(merged, Merged)
    await integration.advance(merged)

    outcome = await integration.merge(second, "merge: beta")
    assert outcome == MergeConflict(second, ("app.py",))
    assert await integration.head() == merged.commit
    assert await integration.pending() is None
    assert status(integration.path) == ""
    assert git(integration.path, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestration"
    assert (integration.path / "app.py").read_text() == "print('alpha')\n"
    with pytest.raises(subprocess.CalledProcessError):  # no merge in progress
        git(integration.path, "rev-parse", "--quiet", "--verify", "MERGE_HEAD")


async def test_a_commit_the_branch_already_holds_is_refused(
    integration: Integration, repo: Path
) -> None:
    with pytest.raises(InvalidRequest):
        await integration.merge(rev(repo, "v1"), "merge: nothing")
    assert await integration.pending() is None


async def test_undo_drops_a_waiting_merge_once(integration: Integration, repo: Path) -> None:
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    merged = await integration.merge(commit_file(alpha.path, "a.txt", "a\n"), "merge: alpha")
    assert isinstance(merged, Merged)
    (integration.path / "build.log").write_text("left by validation\n")
    assert await integration.undo(merged.commit) is True
    assert await integration.undo(merged.commit) is False
    assert await integration.head() == merged.previous
    assert git(integration.path, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestration"
    assert status(integration.path) == ""
    assert not (integration.path / "a.txt").exists()


async def test_undo_moves_the_branch_back_only_from_that_merge(
    integration: Integration, repo: Path
) -> None:
    start = await integration.head()
    await merged_ticket(integration, ALPHA, "a.txt")
    first = await integration.head()
    await merged_ticket(integration, BETA, "b.txt")
    second = await integration.head()

    assert await integration.undo(first) is False  # not the branch's commit: nothing rewritten
    assert await integration.head() == second
    assert await integration.undo(second) is True
    assert await integration.head() == first
    assert status(integration.path) == ""
    assert not (integration.path / "b.txt").exists()
    assert await integration.undo(start) is False


# -- removal, names, sweep ---------------------------------------------------------------


async def test_removal_refuses_unmerged_commits_until_forced(
    integration: Integration, repo: Path
) -> None:
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    commit_file(alpha.path, "a.txt", "a\n")
    with pytest.raises(WorkdirUnmerged) as refused:
        await integration.remove_ticket(alpha.path, alpha.branch)
    assert refused.value.details == {"unmerged": 1}
    assert alpha.path.is_dir()
    removed = await integration.remove_ticket(alpha.path, alpha.branch, force=True)
    assert (removed.worktree_removed, removed.branch_deleted) == (True, True)
    assert not alpha.path.exists()
    assert git(repo, "branch", "--list", "work/*") == ""


async def test_a_merged_ticket_is_removed_without_force(
    integration: Integration, repo: Path
) -> None:
    alpha = await merged_ticket(integration, ALPHA, "a.txt")
    removed = await integration.remove_ticket(alpha.path, alpha.branch)
    assert (removed.worktree_removed, removed.branch_deleted) == (True, True)
    again = await integration.remove_ticket(alpha.path, alpha.branch)
    assert (again.worktree_removed, again.branch_deleted) == (False, False)
    listed = git(repo, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 2


@pytest.mark.parametrize("where", ["root", "integration", "outside"])
async def test_removal_touches_only_ticket_worktrees(
    integration: Integration, repo: Path, tmp_path: Path, where: str
) -> None:
    path = {"root": repo, "integration": integration.path, "outside": tmp_path / "x"}[where]
    with pytest.raises(InvalidRequest):
        await integration.remove_ticket(path, "work/x", force=True)
    with pytest.raises(InvalidRequest):
        await integration.remove_ticket(repo / ".worktree" / "x", "main", force=True)
    assert integration.path.is_dir()


async def test_a_branch_name_is_never_given_twice(integration: Integration, repo: Path) -> None:
    first = await integration.prepare_ticket(ALPHA, "Alpha")
    second = await integration.prepare_ticket(ALPHA, "Alpha")  # the first still exists
    assert second.branch == f"{first.branch}-2"
    for work in (first, second):
        await integration.remove_ticket(work.path, work.branch)
    used = {first.branch, second.branch}
    third = await integration.prepare_ticket(ALPHA, "Alpha", used=used)
    assert third.branch == f"{first.branch}-3"
    assert third.path.name == f"{first.name}-3"


async def test_the_sweep_removes_finished_work_and_keeps_what_would_be_lost(
    integration: Integration, repo: Path
) -> None:
    done = await merged_ticket(integration, ALPHA, "a.txt")
    unmerged = await integration.prepare_ticket(BETA, "Unmerged")
    commit_file(unmerged.path, "b.txt", "b\n")
    dirty = await integration.prepare_ticket(BETA, "Dirty")
    (dirty.path / "draft.txt").write_text("not committed\n")
    active = await integration.prepare_ticket(BETA, "Active")
    commit_file(active.path, "c.txt", "c\n")
    gone = await integration.prepare_ticket(BETA, "Gone")
    git(repo, "worktree", "remove", "--force", str(gone.path))
    stray = repo / ".worktree" / "stray"
    stray.mkdir()
    elsewhere = repo.parent / "elsewhere"  # a work branch someone checked out outside
    git(repo, "worktree", "add", "-q", "-b", "work/elsewhere", str(elsewhere))
    persons = repo / ".worktree" / "wd-persons"  # a person's detached workdir
    git(repo, "worktree", "add", "-q", "--detach", str(persons))

    report = await integration.sweep({active.branch})

    assert sorted(report.removed) == sorted([done.branch, gone.branch])
    kept = {item.branch: (item.unmerged, item.uncommitted) for item in report.kept}
    assert kept == {unmerged.branch: (1, 0), dirty.branch: (0, 1)}
    assert report.strays == ("stray",)
    branches = git(repo, "branch", "--list", "work/*", "--format=%(refname:short)").split()
    assert sorted(branches) == sorted(
        [unmerged.branch, dirty.branch, active.branch, "work/elsewhere"]
    )
    assert not done.path.exists()
    assert all(work.path.is_dir() for work in (unmerged, dirty, active))
    assert stray.is_dir()
    assert persons.is_dir()
    assert (await integration.sweep({active.branch})).removed == ()


async def test_the_persons_checkout_and_its_changes_are_never_touched(repo: Path) -> None:
    (repo / "app.py").write_text("print('mine, not committed')\n")
    (repo / "notes.txt").write_text("untracked\n")
    git(repo, "add", "notes.txt")
    (repo / "scratch.txt").write_text("untracked too\n")
    before = (status(repo), rev(repo, "HEAD"), git(repo, "symbolic-ref", "HEAD"))
    integration = Integration(repo)
    await integration.ensure()
    alpha = await merged_ticket(integration, ALPHA, "a.txt")
    await integration.remove_ticket(alpha.path, alpha.branch)
    await integration.sweep(())
    assert (status(repo), rev(repo, "HEAD"), git(repo, "symbolic-ref", "HEAD")) == before
    assert (repo / "app.py").read_text() == "print('mine, not committed')\n"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.txt\n"


async def test_a_restart_between_moving_the_branch_and_checking_it_out_finishes_the_move(
    integration: Integration, repo: Path
) -> None:
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    merged = await integration.merge(commit_file(alpha.path, "a.txt", "a\n"), "merge: alpha")
    assert isinstance(merged, Merged)
    git(repo, "update-ref", "refs/heads/orchestration", merged.commit, merged.previous)

    restarted = Integration(repo)
    assert await restarted.ensure() == merged.commit
    assert await restarted.pending() is None
    assert git(restarted.path, "symbolic-ref", "HEAD").strip() == "refs/heads/orchestration"
    await restarted.advance(merged)
    assert await restarted.head() == merged.commit


async def test_a_rewritten_git_file_does_not_point_the_merge_elsewhere(
    integration: Integration, repo: Path, tmp_path: Path
) -> None:
    other = tagged_repo(tmp_path / "other")
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    commit = commit_file(alpha.path, "a.txt", "a\n")
    (integration.path / ".git").write_text(f"gitdir: {other / '.git'}\n")
    merged = await integration.merge(commit, "merge: alpha")
    assert isinstance(merged, Merged)
    assert git(repo, "cat-file", "-t", merged.commit).strip() == "commit"
    assert rev(other, "HEAD") == rev(other, "v1")
    assert git(other, "rev-list", "--all", "--count").strip() == "1"


async def test_a_red_validation_undoes_the_merge_and_a_fixed_commit_lands(
    integration: Integration, repo: Path
) -> None:
    sandbox = await Sandbox.probe()
    common = await integration.git_common_dir()
    check = ["git diff --quiet HEAD^1 HEAD -- app.py", "! grep -q broken a.txt"]
    alpha = await integration.prepare_ticket(ALPHA, "Alpha")
    broken = await integration.merge(commit_file(alpha.path, "a.txt", "broken\n"), "merge: a")
    assert isinstance(broken, Merged)
    red = await run_validation(check, integration.path, 30, sandbox, git_common_dir=common)
    assert red.failure is not None
    assert red.failure.command == check[1]
    assert await integration.undo(broken.commit)

    fixed = await integration.merge(commit_file(alpha.path, "a.txt", "fixed\n"), "merge: a")
    assert isinstance(fixed, Merged)
    assert fixed.previous == broken.previous
    green = await run_validation(check, integration.path, 30, sandbox, git_common_dir=common)
    assert green.passed
    await integration.advance(fixed)
    assert git(repo, "rev-list", "--count", "--merges", "orchestration").strip() == "1"
    assert git(repo, "show", "orchestration:a.txt") == "fixed\n"
    assert status(integration.path) == ""  # validation's scratch is ignored or cleaned


async def test_a_merge_the_branch_moved_past_is_held_by_it(integration: Integration) -> None:
    first = await merged_ticket(integration, ALPHA, "a.txt")
    tip = await integration.head()
    assert await integration.holds(tip)
    assert await integration.holds(first.base_commit)
    later = await merged_ticket(integration, BETA, "b.txt")
    assert await integration.holds(tip)  # a merge the branch moved on from
    assert not await integration.holds(commit_file(later.path, "c.txt", "not merged\n"))
