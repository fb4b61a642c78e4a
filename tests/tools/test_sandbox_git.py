"""A sandboxed command in a worktree, against the real bubblewrap and git: it can commit, but
it cannot leave in git's metadata anything host git would later run or follow."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.git_repo import git, tagged_repo
from tests.tools.test_sandbox import run

from yoi.tools.sandbox import Confinement, GitAuthor, Sandbox


@dataclass(frozen=True)
class Worktree:
    """A worktree like the runtime's workdirs, of a repository with another worktree."""

    repo: Path
    path: Path
    common: Path
    own: Path

    def confinement(self) -> Confinement:
        return Confinement(
            workdir=self.path,
            cwd=self.path,
            home=self.path / ".yoi-scratch" / "home",
            git_common_dir=self.common,
            author=GitAuthor("Coder", "coder@example.test"),
        )


@pytest.fixture
async def sandbox() -> Sandbox:
    probed = await Sandbox.probe()
    assert probed.status.available, probed.status.diagnostic
    return probed


@pytest.fixture
def worktree(tmp_path: Path) -> Worktree:
    repo = tagged_repo(tmp_path / "repo")
    (repo / ".git" / "hooks" / "pre-commit.sample").write_text("#!/bin/sh\n")
    git(repo, "worktree", "add", "-q", "--no-track", "-b", "other", str(tmp_path / "other"), "v1")
    git(repo, "worktree", "add", "-q", "--no-track", "-b", "work", str(tmp_path / "wd"), "v1")
    (tmp_path / "wd" / ".yoi-scratch" / "home").mkdir(parents=True)
    common = repo / ".git"
    return Worktree(repo, tmp_path / "wd", common, common / "worktrees" / "wd")


def metadata(worktree: Worktree) -> dict[str, bytes | None]:
    """Every file of the common dir but the object store, and the worktree's ``.git`` file,
    by path (directories map to None, so an added empty one shows too)."""
    found: dict[str, bytes | None] = {".git": (worktree.path / ".git").read_bytes()}
    for path in sorted(worktree.common.rglob("*")):
        relative = str(path.relative_to(worktree.common))
        if not relative.startswith("objects"):
            found[relative] = path.read_bytes() if path.is_file() else None
    return found


ATTACKS = {
    "hook": "printf '#!/bin/sh\\ntouch /tmp/pwned\\n' > {common}/hooks/post-checkout",
    "hook by rename": "mv {common}/hooks {common}/old-hooks && mkdir {common}/hooks",
    "fsmonitor": "git config core.fsmonitor 'touch /tmp/pwned'",
    "hooks path": "git config core.hooksPath {wd}/.githooks",
    "config appended": "printf '[alias]\\n\\tst = !touch /tmp/pwned\\n' >> {common}/config",
    "attributes": "mkdir -p {common}/info && echo '* filter=run' >> {common}/info/attributes",
    "commondir of the common dir": "echo {wd}/evil > {common}/commondir",
    "commondir of the worktree": "echo {wd}/evil > {own}/commondir",
    "worktree config": "printf '[core]\\n\\tfsmonitor = x\\n' > {own}/config.worktree",
    "worktree config by git": "git config extensions.worktreeConfig true",
    "dot git file": "echo 'gitdir: {wd}/evil' > .git",
    "dot git file by rename": "mv .git moved.git",
    "another worktree": "echo {wd}/evil > {common}/worktrees/other/commondir",
    "submodule gitdir": "mkdir -p {common}/modules/sub/hooks",
    "unmounting a guard": "umount {wd}/.git && echo 'gitdir: {wd}/evil' > .git",
    "remounting": "mount -o remount,bind,rw {common} && touch {common}/hooks/post-checkout",
}


@pytest.mark.parametrize("command", ATTACKS.values(), ids=ATTACKS.keys())
async def test_git_metadata_that_host_git_runs_is_read_only(
    sandbox: Sandbox, worktree: Worktree, command: str
) -> None:
    await run(sandbox, worktree.confinement(), "true")  # places config.worktree's cover
    before = metadata(worktree)
    script = command.format(common=worktree.common, own=worktree.own, wd=worktree.path)
    code, output = await run(sandbox, worktree.confinement(), script)
    assert code != 0, output
    assert metadata(worktree) == before


async def test_a_missing_hooks_directory_cannot_be_made(
    sandbox: Sandbox, worktree: Worktree
) -> None:
    hooks = worktree.common / "hooks"
    shutil.rmtree(hooks)
    code, _ = await run(sandbox, worktree.confinement(), f"mkdir {hooks} && touch {hooks}/x")
    assert code != 0
    assert not hooks.exists()


async def test_commits_still_work(sandbox: Sandbox, worktree: Worktree) -> None:
    script = "echo two > two.txt && git add two.txt && git commit -q -m Two && git status -s"
    code, output = await run(sandbox, worktree.confinement(), script)
    assert (code, output) == (0, "")
    assert git(worktree.path, "log", "--format=%s %an", "-2").splitlines() == [
        "Two Coder",
        "First Ann",
    ]
    assert git(worktree.path, "status", "--porcelain") == ""
    assert git(worktree.repo, "log", "--format=%s", "work", "-1") == "Two\n"
    assert (worktree.own / "config.worktree").read_bytes() == b""


async def test_a_main_worktree_keeps_its_config_and_hooks(sandbox: Sandbox, tmp_path: Path) -> None:
    repo = tagged_repo(tmp_path / "repo")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    author = GitAuthor("Coder", "coder@example.test")
    confinement = Confinement(workdir=repo, cwd=repo, home=tmp_path / "home", author=author)
    config = (repo / ".git" / "config").read_bytes()
    hook = repo / ".git" / "hooks" / "post-checkout"
    attributes = repo / ".git" / "info" / "attributes"
    script = f"git config core.fsmonitor x; echo x > {hook}; echo x > {attributes}; true"
    await run(sandbox, confinement, script)
    assert (repo / ".git" / "config").read_bytes() == config
    assert not hook.exists()
    assert not attributes.exists()
    code, _ = await run(sandbox, confinement, "echo b > b && git add b && git commit -qm B")
    assert code == 0
