"""The git tools against real temporary repositories, hostile arguments and hostile config."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.git_repo import git

from yoi.engine.tool import Tool, ToolResult
from yoi.tools.git import git_tools
from yoi.tools.git_runner import GitSettings
from yoi.tools.scope import Capability, Grant, Scope

EVERYTHING = Grant(frozenset(Capability))
READ_ONLY = Grant(frozenset({Capability.READ}))
Calls = list[tuple[str, dict[str, object]]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('one')\n")
    (root / "README.md").write_text("# app\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "First commit")
    (root / "src" / "app.py").write_text("print('two')\n")
    git(root, "commit", "-q", "-am", "Second commit")
    return root


class Tools:
    def __init__(self, scope: Scope, settings: GitSettings) -> None:
        self.by_name = {tool.name: tool for tool in git_tools(scope, settings)}

    async def __call__(self, name: str, **arguments: object) -> ToolResult:
        tool: Tool = self.by_name[name]
        result = await tool.call(arguments)
        assert "\n" not in result.summary, result.summary
        return result


@pytest.fixture
def tools(repo: Path) -> Iterator[Tools]:
    with Scope.open(repo, EVERYTHING) as scope:
        yield Tools(scope, GitSettings(branch="main", author_name="Coder", author_email="c@x"))


def head(root: Path, ref: str = "HEAD") -> str:
    return git(root, "rev-parse", ref).strip()


# -- read-only tools ----------------------------------------------------------------------------


async def test_status_lists_changes(repo: Path, tools: Tools) -> None:
    assert (await tools("git_status")).summary == "main: clean"
    (repo / "new.txt").write_text("new\n")
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_status")
    assert result.summary == "main: 2 changed paths"
    assert " M README.md" in result.text
    assert "?? new.txt" in result.text
    assert (await tools("git_status", paths=["src"])).summary == "main: clean"


async def test_diff_unstaged_staged_and_against_a_base(repo: Path, tools: Tools) -> None:
    assert (await tools("git_diff")).summary == "no differences"
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_diff")
    assert result.summary == "1 file changed, 1 insertion(+), 1 deletion(-)"
    assert "+# changed" in result.text
    assert (await tools("git_diff", staged=True)).summary == "no differences"
    git(repo, "add", "README.md")
    assert "+# changed" in (await tools("git_diff", staged=True)).text
    against_first = await tools("git_diff", base="HEAD~1", paths=["src/app.py"])
    assert "-print('one')" in against_first.text
    assert "README" not in against_first.text


async def test_diff_output_is_bounded(repo: Path) -> None:
    (repo / "big.txt").write_text("".join(f"line {n}\n" for n in range(50_000)))
    git(repo, "add", "big.txt")
    with Scope.open(repo, EVERYTHING) as scope:
        tools = Tools(scope, GitSettings(branch="main", max_output=2_000))
        result = await tools("git_diff", staged=True)
    assert not result.is_error
    assert result.summary.endswith("(output cut)")
    assert len(result.text) < 2_100
    assert result.text.endswith("[… output cut at 2000 bytes]")


async def test_log_is_newest_first_and_bounded(repo: Path, tools: Tools) -> None:
    result = await tools("git_log")
    assert result.summary == "2 commits"
    first, second = result.text.splitlines()
    assert first.endswith("Ann  Second commit")
    assert second.endswith("Ann  First commit")
    assert (await tools("git_log", max_count=1)).summary == "1 commits"
    assert (await tools("git_log", path="README.md")).text.strip().endswith("First commit")
    assert (await tools("git_log", revision="HEAD~1")).summary == "1 commits"
    refused = await tools("git_log", max_count=0)
    assert refused.is_error
    assert "max_count" in refused.summary


async def test_show_a_commit_and_a_file_at_a_commit(repo: Path, tools: Tools) -> None:
    commit = await tools("git_show", revision="HEAD")
    assert commit.summary.startswith("commit ")
    assert "Second commit" in commit.text
    assert "+print('two')" in commit.text
    old = await tools("git_show", revision="HEAD~1:src/app.py")
    assert old.summary == "HEAD~1:src/app.py: 1 lines"
    assert old.text == "print('one')\n"
    tree = await tools("git_show", revision="HEAD:src")
    assert tree.summary.startswith("tree ")
    assert "app.py" in tree.text
    missing = await tools("git_show", revision="HEAD:nope.txt")
    assert missing.is_error
    assert "does not name a revision" in missing.summary


async def test_show_refuses_binary_files(repo: Path, tools: Tools) -> None:
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    git(repo, "add", "blob.bin")
    git(repo, "commit", "-q", "-m", "binary")
    result = await tools("git_show", revision="HEAD:blob.bin")
    assert result.is_error
    assert "binary" in result.summary


async def test_a_narrowed_grant_narrows_what_git_shows(repo: Path) -> None:
    (repo / "README.md").write_text("# changed\n")
    (repo / "src" / "app.py").write_text("print('three')\n")
    with Scope.open(repo, Grant(frozenset({Capability.READ}), ("src",))) as scope:
        tools = Tools(scope, GitSettings(branch="main"))
        diff = await tools("git_diff")
        assert "app.py" in diff.text
        assert "README" not in diff.text
        outside = await tools("git_show", revision="HEAD:README.md")
        assert outside.is_error
        assert "outside the granted paths" in outside.summary
        by_id = await tools("git_show", revision=head(repo, "HEAD:README.md"))
        assert by_id.is_error
        assert "commit:path" in by_id.summary
        assert "README" not in (await tools("git_show", revision="HEAD~1")).text


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("git_show", {"revision": "--output=OUT"}),
        ("git_log", {"revision": "--output=OUT"}),
        ("git_diff", {"base": "--output=OUT"}),
        ("git_show", {"revision": "-p"}),
    ],
)
async def test_revisions_that_look_like_options_are_refused(
    repo: Path, tools: Tools, name: str, arguments: dict[str, object]
) -> None:
    out = repo.parent / "out"
    revision = str(next(iter(arguments.values()))).replace("OUT", str(out))
    result = await tools(name, **{next(iter(arguments)): revision})
    assert result.is_error
    assert "starts with '-'" in result.summary
    assert not out.exists()


async def test_paths_that_look_like_options_are_only_paths(repo: Path, tools: Tools) -> None:
    out = repo.parent / "out"
    (repo / "README.md").write_text("# changed\n")
    calls: Calls = [
        ("git_diff", {"paths": [f"--output={out}"]}),
        ("git_status", {"paths": [f"--output={out}"]}),
        ("git_log", {"path": f"--output={out}"}),
        ("git_commit", {"message": "m", "paths": [f"--output={out}"]}),
    ]
    for name, arguments in calls:
        result = await tools(name, **arguments)
        assert "README" not in result.text, name
    assert not out.exists()
    assert head(repo) == head(repo, "main")


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "src/../../x", "a\x00b"])
async def test_paths_that_escape_are_refused(tools: Tools, path: str) -> None:
    calls: Calls = [
        ("git_diff", {"paths": [path]}),
        ("git_log", {"path": path}),
        ("git_show", {"revision": f"HEAD:{path}"}),
        ("git_commit", {"message": "m", "paths": [path]}),
    ]
    for name, arguments in calls:
        result = await tools(name, **arguments)
        assert result.is_error, (name, path)
        assert "refused" in result.summary


async def test_grants_are_checked_per_tool(repo: Path) -> None:
    (repo / "README.md").write_text("# changed\n")
    with Scope.open(repo, READ_ONLY) as scope:
        tools = Tools(scope, GitSettings(branch="main"))
        assert not (await tools("git_status")).is_error
        refused = await tools("git_commit", message="m", all=True)
    assert refused.is_error
    assert "no 'commit' capability" in refused.summary
    with Scope.open(repo, Grant(frozenset({Capability.COMMIT}))) as scope:
        refused = await Tools(scope, GitSettings(branch="main"))("git_log")
    assert "no 'read' capability" in refused.summary


async def test_unknown_and_mistyped_arguments_are_refused(tools: Tools) -> None:
    cases: list[tuple[str, dict[str, object], str]] = [
        ("git_log", {"count": 3}, "unknown arguments: 'count'"),
        ("git_log", {"max_count": True}, "max_count"),
        ("git_diff", {"staged": "yes"}, "staged must be true or false"),
        ("git_diff", {"paths": "src"}, "paths must be an array of strings"),
        ("git_show", {}, "revision is required"),
        ("git_commit", {"message": "m"}, "either paths to stage or all=true"),
        ("git_commit", {"message": " ", "all": True}, "message must be a non-empty"),
    ]
    for name, arguments, says in cases:
        result = await tools(name, **arguments)
        assert result.is_error
        assert says in result.summary, result.summary


# -- git_commit ---------------------------------------------------------------------------------


async def test_commit_named_paths_with_the_tool_author(repo: Path, tools: Tools) -> None:
    before = head(repo)
    (repo / "src" / "app.py").write_text("print('three')\n")
    (repo / "notes.txt").write_text("not staged\n")
    result = await tools("git_commit", message="Third commit\n\nBody line  \n", paths=["src"])
    assert not result.is_error, result.summary
    assert result.summary.startswith("committed ")
    assert result.summary.endswith("on main: Third commit (1 files)")
    assert result.text == "M\tsrc/app.py"
    assert head(repo, "HEAD~1") == before
    assert (
        git(repo, "log", "-1", "--format=%an <%ae>|%cn|%B")
        == "Coder <c@x>|Coder|Third commit\n\nBody line\n\n"
    )
    assert "?? notes.txt" in git(repo, "status", "--porcelain")
    assert git(repo, "reflog", "-1", "--format=%gs", "main").strip() == "commit: Third commit"


async def test_commit_all_leaves_the_ticket_store_out(repo: Path, tools: Tools) -> None:
    (repo / "new.txt").write_text("new\n")
    (repo / "README.md").unlink()
    tickets = repo / ".yoi" / "tickets" / "T1"
    tickets.mkdir(parents=True)
    (tickets / "item.md").write_text("state: done\n")
    result = await tools("git_commit", message="All of it", all=True)
    assert not result.is_error, result.summary
    assert sorted(result.text.splitlines()) == ["A\tnew.txt", "D\tREADME.md"]
    assert ".yoi" not in git(repo, "ls-tree", "-r", "--name-only", "HEAD")


async def test_a_ticket_change_staged_by_hand_refuses_the_commit(repo: Path, tools: Tools) -> None:
    before = head(repo)
    tickets = repo / ".yoi" / "tickets" / "T1"
    tickets.mkdir(parents=True)
    (tickets / "item.md").write_text("state: done\n")
    git(repo, "add", ".yoi")
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_commit", message="Sneaky", paths=["README.md"])
    assert result.is_error
    assert "ticket store" in result.summary
    assert head(repo) == before


async def test_nothing_to_commit_is_an_error(repo: Path, tools: Tools) -> None:
    result = await tools("git_commit", message="Empty", all=True)
    assert result.is_error
    assert "nothing to commit" in result.summary


async def test_commit_refuses_when_another_branch_is_checked_out(repo: Path, tools: Tools) -> None:
    git(repo, "switch", "-q", "-c", "other")
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_commit", message="Wrong branch", all=True)
    assert result.is_error
    assert "HEAD is other, not main" in result.summary
    assert head(repo, "other") == head(repo, "main")


async def test_commit_refuses_a_detached_head_when_a_branch_was_expected(
    repo: Path, tools: Tools
) -> None:
    git(repo, "switch", "-q", "--detach", "HEAD~1")
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_commit", message="Detached", all=True)
    assert result.is_error
    assert "HEAD is detached, not main" in result.summary


async def test_a_detached_workdir_commits_on_head_and_refuses_a_branch(repo: Path) -> None:
    main = head(repo, "main")
    git(repo, "switch", "-q", "--detach")
    with Scope.open(repo, EVERYTHING) as scope:
        tools = Tools(scope, GitSettings(branch=None))
        (repo / "README.md").write_text("# detached\n")
        result = await tools("git_commit", message="On HEAD", all=True)
        assert result.summary.endswith("on detached HEAD: On HEAD (1 files)")
        assert head(repo, "HEAD~1") == main
        assert head(repo, "main") == main
        git(repo, "switch", "-q", "main")
        (repo / "README.md").write_text("# again\n")
        refused = await tools("git_commit", message="On main", all=True)
    assert refused.is_error
    assert "HEAD is on main, but this workdir is detached" in refused.summary
    assert head(repo, "main") == main


async def test_the_first_commit_of_an_empty_repository(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q", "-b", "work")
    (root / "a.txt").write_text("a\n")
    with Scope.open(root, EVERYTHING) as scope:
        tools = Tools(scope, GitSettings(branch="work"))
        assert (await tools("git_log")).summary == "no commits yet"
        result = await tools("git_commit", message="Root", paths=["a.txt"])
        assert result.text == "A\ta.txt"
        assert (await tools("git_log")).summary == "1 commits"


# -- hostile repository config ----------------------------------------------------------------


def marker_script(root: Path, marker: Path) -> Path:
    script = root.parent / "evil.sh"
    script.write_text(f"#!/bin/sh\necho ran >> {marker}\ncat\n")
    script.chmod(0o755)
    return script


async def test_hooks_do_not_run(repo: Path, tools: Tools) -> None:
    marker = repo.parent / "marker"
    script = marker_script(repo, marker)
    hooks = repo / ".git" / "hooks"
    for hook in ("pre-commit", "commit-msg", "post-commit", "reference-transaction"):
        (hooks / hook).symlink_to(script)
    (repo / "README.md").write_text("# changed\n")
    result = await tools("git_commit", message="Hooked", all=True)
    assert not result.is_error, result.summary
    assert not marker.exists()
    git(repo, "commit", "-q", "--allow-empty", "-m", "by hand")  # the same hooks run for people
    assert marker.exists()


async def test_fsmonitor_filters_and_diff_drivers_in_repo_config_do_not_run(
    repo: Path, tools: Tools
) -> None:
    marker = repo.parent / "marker"
    script = marker_script(repo, marker)
    git(repo, "config", "core.fsmonitor", str(script))
    git(repo, "config", "filter.evil=x.clean", str(script))
    git(repo, "config", "filter.evil=x.smudge", str(script))
    git(repo, "config", "diff.external", str(script))
    git(repo, "config", "diff.evil.textconv", str(script))
    (repo / ".gitattributes").write_text("* filter=evil=x diff=evil\n")
    (repo / "README.md").write_text("# changed\n")
    calls: Calls = [
        ("git_status", {}),
        ("git_diff", {}),
        ("git_diff", {"staged": True}),
        ("git_commit", {"message": "Attributes", "all": True}),
        ("git_show", {"revision": "HEAD"}),
        ("git_log", {}),
    ]
    for name, arguments in calls:
        result = await tools(name, **arguments)
        assert not result.is_error, (name, result.summary)
        assert not marker.exists(), name
    (repo / "README.md").write_text("# by hand\n")
    git(repo, "diff")  # the same config runs programs for plain git
    assert marker.exists()


async def test_the_parent_environment_does_not_reach_git(
    repo: Path, tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
    result = await tools("git_log")
    assert result.summary == "2 commits"


async def test_a_workdir_that_is_not_a_repository_does_not_reach_its_parent(repo: Path) -> None:
    inner = repo / "src"
    with Scope.open(inner, EVERYTHING) as scope:
        tools = Tools(scope, GitSettings(branch="main"))
        results = [await tools("git_log"), await tools("git_show", revision="HEAD")]
    for result in results:
        assert result.is_error
        assert "not a git repository" in result.summary


# -- properties ---------------------------------------------------------------------------------

TEXT = st.text(max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
ARGUMENTS = st.dictionaries(
    st.sampled_from(
        ["revision", "path", "paths", "base", "staged", "max_count", "message", "all", "x"]
    ),
    JSON | TEXT | st.lists(TEXT, max_size=3),
    max_size=3,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["git_status", "git_diff", "git_log", "git_show", "git_commit"]),
    arguments=ARGUMENTS,
)
async def test_any_arguments_give_a_result_never_a_crash(
    repo: Path, tools: Tools, name: str, arguments: dict[str, object]
) -> None:
    result = await tools(name, **arguments)
    assert result.summary
    if result.is_error:
        assert result.summary.startswith((f"{name} refused: ", "git "))
    assert head(repo) == head(repo, "main")


# -- the git process ----------------------------------------------------------------------------


def fake_git(tmp_path: Path, body: str) -> str:
    """A program in git's place, for what real git will not do on demand: hang, or flood."""
    program = tmp_path / "fake-git"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    return str(program)


async def test_a_git_that_hangs_is_killed_at_the_timeout(repo: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    program = fake_git(tmp_path, f"echo $$ > {pid_file}\nexec sleep 60")
    with Scope.open(repo, EVERYTHING) as scope:
        tools = Tools(scope, GitSettings(branch="main", timeout=0.3, program=program))
        result = await tools("git_status")
    assert result.is_error
    assert "took longer than 0.3s and was stopped" in result.summary
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_flood_on_stderr_does_not_block_and_is_reported(repo: Path, tmp_path: Path) -> None:
    program = fake_git(
        tmp_path, "head -c 2000000 /dev/zero | tr '\\0' x >&2\necho 'fatal: broken' >&2\nexit 2"
    )
    with Scope.open(repo, EVERYTHING) as scope:
        result = await Tools(scope, GitSettings(branch="main", timeout=30, program=program))(
            "git_status"
        )
    assert result.is_error
    assert len(result.summary) < 300
