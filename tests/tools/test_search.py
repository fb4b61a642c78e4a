"""glob, list_files and grep against a real git repository, on the real ``rg``."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yoi.engine.tool import Tool, ToolResult, spec_of
from yoi.tools._ripgrep import Ripgrep
from yoi.tools.scope import Capability, Grant, Scope
from yoi.tools.search import GlobTool, GrepTool, ListFilesTool, SearchLimits

EVERYTHING = Grant(frozenset(Capability))
RG = Ripgrep.find()


def write(root: Path, relative: str, text: str, mtime: float | None = None) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def make_repo(base: Path) -> Path:
    """A git repository with ignored files, a hidden folder and links to a folder outside."""
    root = base / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    write(base, "outside/secret.txt", "needle from outside\n")
    write(root, ".gitignore", "build/\n*.log\n")
    write(root, "top.py", "needle at the top\n", mtime=1_000)
    write(root, "src/a.py", "def alpha():\n    return 1\n# needle in a\n", mtime=3_000)
    write(root, "src/sub/b.py", "Needle in B\nbeta\n", mtime=2_000)
    write(root, ".config/c.py", "needle hidden\n", mtime=500)
    write(root, "build/gen.py", "needle ignored\n")
    write(root, "debug.log", "needle ignored\n")
    write(root, "-rf.py", "--pre=evil\n", mtime=100)
    (root / "linkdir").symlink_to(base / "outside")
    (root / "linkfile.py").symlink_to(base / "outside" / "secret.txt")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def scope(repo: Path) -> Iterator[Scope]:
    with Scope.open(repo, EVERYTHING) as opened:
        yield opened


async def call(tool: Tool, arguments: Mapping[str, object]) -> ToolResult:
    result = await tool.call(arguments)
    assert "\n" not in result.summary
    return result


def lines(result: ToolResult) -> list[str]:
    """The content without the closing summary line."""
    return [line for line in result.text.split("\n") if not line.startswith("[")]


def test_the_tools_are_tools_with_schemas(scope: Scope) -> None:
    tools: list[Tool] = [GlobTool(scope, RG), ListFilesTool(scope, RG), GrepTool(scope, RG)]
    assert [spec_of(tool).name for tool in tools] == ["glob", "list_files", "grep"]
    assert RG.binary is not None


async def test_glob_lists_matching_files_newest_first_without_ignored_or_git(
    scope: Scope,
) -> None:
    result = await call(GlobTool(scope, RG), {"pattern": "**/*.py"})
    assert not result.is_error
    assert lines(result) == ["src/a.py", "src/sub/b.py", "top.py", ".config/c.py", "-rf.py"]
    assert result.summary == "5 file(s) in ., newest first"


async def test_a_glob_with_a_slash_is_relative_to_the_path_searched(scope: Scope) -> None:
    tool = GlobTool(scope, RG)
    assert lines(await call(tool, {"pattern": "sub/*.py", "path": "src"})) == ["src/sub/b.py"]
    assert lines(await call(tool, {"pattern": "src/*.py"})) == ["src/a.py"]


async def test_list_files_respects_depth_and_never_lists_git_internals(scope: Scope) -> None:
    tool = ListFilesTool(scope, RG)
    assert lines(await call(tool, {"path": "src", "depth": 1})) == ["src/a.py"]
    everything = lines(await call(tool, {}))
    assert "src/sub/b.py" in everything
    assert ".gitignore" in everything
    assert not [name for name in everything if name.startswith((".git/", "build/"))]
    assert "debug.log" not in everything


async def test_listings_are_bounded_and_say_how_many_more(repo: Path) -> None:
    for index in range(250):
        write(repo, f"many/f{index:03d}.txt", "x\n", mtime=10_000 + index)
    with Scope.open(repo, EVERYTHING) as scope:
        result = await call(ListFilesTool(scope, RG), {"path": "many"})
        assert len(lines(result)) == 200
        assert lines(result)[0] == "many/f249.txt"
        assert result.summary == "200 file(s) in many, newest first (50 more not shown)"
        limited = await call(GlobTool(scope, RG), {"pattern": "*.txt", "limit": 3})
        assert lines(limited) == ["many/f249.txt", "many/f248.txt", "many/f247.txt"]
        assert "247 more not shown" in limited.summary


async def test_symbolic_links_are_never_followed(scope: Scope) -> None:
    grep = GrepTool(scope, RG)
    found = await call(grep, {"pattern": "outside", "output": "files"})
    assert found.summary == "no matches"
    listed = lines(await call(ListFilesTool(scope, RG), {}))
    assert not [name for name in listed if "link" in name]
    for tool in (grep, GlobTool(scope, RG)):
        into = await call(tool, {"pattern": "needle", "path": "linkdir"})
        assert into.is_error
        assert "symbolic link" in into.summary
    through = await call(grep, {"pattern": "needle", "path": "linkfile.py"})
    assert through.is_error


async def test_paths_outside_the_workdir_are_refused(scope: Scope) -> None:
    for path in ("/etc", "..", "../outside", "src/../../outside"):
        result = await call(GrepTool(scope, RG), {"pattern": "needle", "path": path})
        assert result.is_error, path


async def test_grep_shows_matching_lines_with_numbers_and_context(scope: Scope) -> None:
    grep = GrepTool(scope, RG)
    result = await call(grep, {"pattern": "needle", "path": "src", "ignore_case": True})
    assert lines(result) == ["src/a.py", "3:# needle in a", "src/sub/b.py", "1:Needle in B"]
    assert result.summary == "2 matching line(s)"
    context = await call(grep, {"pattern": "return", "context": 1})
    assert lines(context) == ["src/a.py", "1-def alpha():", "2:    return 1", "3-# needle in a"]
    literal = await call(grep, {"pattern": "alpha()", "literal": True})
    assert lines(literal) == ["src/a.py", "1:def alpha():"]
    one_file = await call(grep, {"pattern": "beta", "path": "src/sub/b.py"})
    assert lines(one_file) == ["src/sub/b.py", "2:beta"]


async def test_grep_respects_gitignore_and_searches_hidden_files(scope: Scope) -> None:
    result = await call(GrepTool(scope, RG), {"pattern": "needle", "output": "files"})
    assert lines(result) == [".config/c.py", "src/a.py", "top.py"]


async def test_grep_lists_files_or_counts(scope: Scope) -> None:
    grep = GrepTool(scope, RG)
    counts = await call(grep, {"pattern": "e", "output": "count", "glob": "*.py"})
    assert "src/sub/b.py: 2" in lines(counts)
    excluded = await call(grep, {"pattern": "needle", "output": "files", "glob": "!src/**"})
    assert lines(excluded) == [".config/c.py", "top.py"]


async def test_grep_is_bounded_by_matches_and_by_characters(repo: Path) -> None:
    write(repo, "big.txt", "".join(f"hit {index}\n" for index in range(300)))
    write(repo, "wide.txt", ("hit " + "w" * 2000 + "\n") * 50)
    limits = SearchLimits(characters=3_000)
    with Scope.open(repo, EVERYTHING) as scope:
        grep = GrepTool(scope, RG, limits)
        result = await call(grep, {"pattern": "^hit", "path": "big.txt"})
        assert result.summary == "300 matching line(s), 100 shown, 200 more not shown"
        assert lines(result)[1:3] == ["1:hit 0", "2:hit 1"]
        wide = await call(grep, {"pattern": "hit", "path": "wide.txt", "limit": 1000})
        assert len(wide.text) < 4_000
        assert "50 matching line(s)" in wide.summary
        assert "more not shown" in wide.summary


async def test_patterns_and_globs_that_look_like_options_stay_patterns(scope: Scope) -> None:
    grep = GrepTool(scope, RG)
    found = await call(grep, {"pattern": "--pre=evil"})
    assert lines(found) == ["-rf.py", "1:--pre=evil"]
    for pattern in ("-e", "--files", "--pre=/bin/sh", "-u"):
        result = await call(grep, {"pattern": "needle", "glob": pattern, "output": "files"})
        assert result.summary == "no matches", pattern
    assert lines(await call(GlobTool(scope, RG), {"pattern": "-rf.py"})) == ["-rf.py"]
    refused = await call(GrepTool(scope, RG), {"pattern": "x", "path": "-rf"})
    assert refused.is_error


async def test_an_invalid_regex_is_an_error_result_with_rgs_message(scope: Scope) -> None:
    result = await call(GrepTool(scope, RG), {"pattern": "alpha("})
    assert result.is_error
    assert result.summary == "grep: failed: error: unclosed group"
    assert "regex parse error" in result.text


async def test_a_hard_linked_file_is_left_out(repo: Path) -> None:
    os.link(repo / "top.py", repo / "twin.py")
    with Scope.open(repo, EVERYTHING) as scope:
        result = await call(GrepTool(scope, RG), {"pattern": "at the top"})
    assert (
        result.summary
        == "2 matching line(s), 0 shown, 2 more not shown (2 hard-linked file(s) left out)"
    )
    assert result.text == result.summary


async def test_the_grant_decides(repo: Path) -> None:
    with Scope.open(repo, Grant(frozenset({Capability.READ}))) as scope:
        for tool in (GrepTool(scope, RG), GlobTool(scope, RG), ListFilesTool(scope, RG)):
            result = await call(tool, {"pattern": "x"} if tool.name != "list_files" else {})
            assert result.is_error
            assert "capability" in result.summary
    narrowed = Grant(frozenset({Capability.GREP}), paths=("src",))
    with Scope.open(repo, narrowed) as scope:
        outside = await call(GrepTool(scope, RG), {"pattern": "needle"})
        assert outside.is_error
        assert "outside the granted paths" in outside.summary
        inside = await call(GrepTool(scope, RG), {"pattern": "needle", "path": "src"})
        assert lines(inside) == ["src/a.py", "3:# needle in a"]


async def test_without_rg_the_tools_say_so(scope: Scope, tmp_path: Path) -> None:
    for missing in (Ripgrep(None), Ripgrep(tmp_path / "no-rg-here")):
        result = await call(GrepTool(scope, missing), {"pattern": "x"})
        assert result.is_error
        assert "ripgrep" in result.summary


async def test_a_search_past_its_deadline_is_killed_and_says_so(
    scope: Scope, tmp_path: Path
) -> None:
    stuck = tmp_path / "stuck-rg"
    pid_file = tmp_path / "pid"
    stuck.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 600\n", encoding="utf-8")
    stuck.chmod(0o755)
    grep = GrepTool(scope, Ripgrep(stuck), SearchLimits(timeout=0.5))
    result = await call(grep, {"pattern": "x"})
    assert result.summary == "no matches (timed out: results are incomplete)"
    pid = int(pid_file.read_text(encoding="utf-8"))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_cancelling_a_search_kills_rg(scope: Scope, tmp_path: Path) -> None:
    started = tmp_path / "started"
    os.mkfifo(started)
    stuck = tmp_path / "stuck-rg"
    stuck.write_text(f"#!/bin/sh\necho $$ > {started}\nexec sleep 600\n", encoding="utf-8")
    stuck.chmod(0o755)
    search = asyncio.ensure_future(GrepTool(scope, Ripgrep(stuck)).call({"pattern": "x"}))
    async with asyncio.timeout(10):
        pid = int(await asyncio.to_thread(started.read_text, encoding="utf-8"))
        search.cancel()
        with pytest.raises(asyncio.CancelledError):
            await search
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_directory_swapped_for_a_link_after_the_check_is_still_the_one_searched(
    repo: Path, tmp_path: Path
) -> None:
    """The swap happens as rg starts, after the scope opened ``src``: rg still searches
    the directory the scope checked (now at src.moved), never the link's target."""
    real = Ripgrep.find().binary
    swapper = tmp_path / "swapping-rg"
    swapper.write_text(
        f"#!/bin/sh\nmv {repo}/src {repo}/src.moved && ln -s {tmp_path}/outside {repo}/src\n"
        f'exec {real} "$@"\n',
        encoding="utf-8",
    )
    swapper.chmod(0o755)
    with Scope.open(repo, EVERYTHING) as scope:
        result = await call(GrepTool(scope, Ripgrep(swapper)), {"pattern": "needle", "path": "src"})
    assert (repo / "src").is_symlink()
    assert lines(result) == ["src/a.py", "3:# needle in a"]


async def test_names_that_are_not_utf8_or_hold_newlines_stay_one_escaped_line(
    repo: Path,
) -> None:
    (repo / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"needle\n")
    write(repo, "two\nlines.txt", "needle\n")
    with Scope.open(repo, EVERYTHING) as scope:
        found = await call(GrepTool(scope, RG), {"pattern": "needle", "glob": "*.txt"})
        listed = await call(GlobTool(scope, RG), {"pattern": "*.txt"})
        missing = await call(GrepTool(scope, RG), {"pattern": "x", "path": "no\nsuch"})
    assert lines(found) == ["caf\\xe9.txt", "1:needle", "two\\nlines.txt", "1:needle"]
    assert sorted(lines(listed)) == ["caf\\xe9.txt", "two\\nlines.txt"]
    assert missing.is_error
    assert "no\\nsuch" in missing.summary
    found.text.encode("utf-8")  # no lone surrogate: a JSON encoder takes it


async def test_listing_a_file_is_refused(scope: Scope) -> None:
    result = await call(ListFilesTool(scope, RG), {"path": "top.py"})
    assert result.is_error
    assert result.summary == "list_files: top.py is not a directory"


async def test_bad_arguments_are_clear_error_results(scope: Scope) -> None:
    grep = GrepTool(scope, RG)
    cases: list[tuple[dict[str, object], str]] = [
        ({}, "'pattern' is required"),
        ({"pattern": 3}, "'pattern' must be a string"),
        ({"pattern": "a\x00b"}, "NUL"),
        ({"pattern": "\ud800"}, "lone surrogates"),
        ({"pattern": "a", "context": True}, "'context' must be an integer from 0 to 10"),
        ({"pattern": "a", "limit": 0}, "'limit' must be an integer"),
        ({"pattern": "a", "output": "all"}, "'output' must be one of content, files, count"),
        ({"pattern": "a", "ignore_case": "yes"}, "'ignore_case' must be true or false"),
        ({"pattern": "a", "recursive": False}, "unknown argument(s): 'recursive'"),
        ({"pattern": "a", "glob": ""}, "'glob' must not be empty"),
    ]
    for arguments, message in cases:
        result = await call(grep, arguments)
        assert result.is_error, arguments
        assert message in result.summary, (arguments, result.summary)
    refused = await call(GlobTool(scope, RG), {"pattern": "!*.py"})
    assert "must not start with '!'" in refused.summary
    one_file = await call(grep, {"pattern": "a", "path": "top.py", "glob": "*.md"})
    assert one_file.summary == "grep: top.py is a file; 'glob' filters the files of a directory"


# --- properties -------------------------------------------------------------------------

# Valid values for each argument; then at most one argument replaced by a value of any
# JSON type, an edge just out of range, or an unknown name, so that valid calls are common
# and each refusal has one cause.
KNOWN: dict[str, st.SearchStrategy[object]] = {
    "pattern": st.text(max_size=12),
    "path": st.sampled_from([".", "src", "src/a.py", "src/sub"]),
    "glob": st.sampled_from(["*.py", "!*.py", "-x", "src/**", "--pre=sh", "{a,b}"]),
    "context": st.integers(0, 10),
    "ignore_case": st.booleans(),
    "literal": st.booleans(),
    "output": st.sampled_from(["content", "files", "count"]),
    "limit": st.integers(1, 1000),
}
EDGES = [-1, 0, 11, 1001, 2001, "", "all", "..", "/", "linkdir", "!x", "-1", 1.0]
ODD: st.SearchStrategy[object] = st.one_of(
    st.sampled_from(EDGES),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def with_one_odd(
    plausible: dict[str, st.SearchStrategy[object]], required: str | None
) -> st.SearchStrategy[dict[str, object]]:
    fixed = {required: plausible[required]} if required else {}
    optional = {name: value for name, value in plausible.items() if name != required}
    base = st.fixed_dictionaries(fixed, optional=optional)
    odd = st.tuples(st.sampled_from([*plausible, "extra"]), ODD)
    return st.tuples(base, st.one_of(st.none(), odd)).map(
        lambda pair: pair[0] if pair[1] is None else {**pair[0], pair[1][0]: pair[1][1]}
    )


ARGUMENTS = with_one_odd(KNOWN, "pattern")


def valid_grep_arguments(arguments: Mapping[str, object]) -> bool:
    """An independent statement of what grep accepts."""

    def text(value: object) -> bool:
        return isinstance(value, str) and "\x00" not in value and not _surrogates(value)

    def integer(value: object, low: int, high: int) -> bool:
        return value is None or (
            isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        )

    checks = [
        set(arguments) <= set(KNOWN),
        text(arguments.get("pattern")),
        arguments.get("path") is None or text(arguments["path"]),
        arguments.get("glob") is None or (text(arguments["glob"]) and arguments["glob"] != ""),
        integer(arguments.get("context"), 0, 10),
        integer(arguments.get("limit"), 1, 1000),
        arguments.get("ignore_case") is None or isinstance(arguments["ignore_case"], bool),
        arguments.get("literal") is None or isinstance(arguments["literal"], bool),
        arguments.get("output") in (None, "content", "files", "count"),
    ]
    return all(checks)


def argument_refusal(tool: str, result: ToolResult) -> bool:
    """Whether ``result`` is the refusal of an argument's shape (see yoi.tools._arguments)."""
    names = "|".join([*KNOWN, "depth"])
    return re.match(rf"{tool}: ('({names})' must|unknown argument)", result.summary) is not None


def _surrogates(value: str) -> bool:
    return any(0xD800 <= ord(character) <= 0xDFFF for character in value)


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scope]:
    with Scope.open(make_repo(tmp_path_factory.mktemp("shared")), EVERYTHING) as scope:
        yield scope


@given(arguments=ARGUMENTS)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_arguments_are_accepted_exactly_when_valid_and_never_crash(
    shared_repo: Scope, arguments: dict[str, object]
) -> None:
    result = asyncio.run(GrepTool(shared_repo, RG).call(arguments))
    assert "\n" not in result.summary
    if not valid_grep_arguments(arguments):
        assert result.is_error
        return
    if not result.is_error:
        return
    # A valid call fails only for what rg or the scope says: never for its argument shapes.
    assert not argument_refusal("grep", result)


@given(needle=st.text(st.characters(blacklist_characters="\n\r\x00", codec="utf-8"), min_size=1))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_literal_pattern_finds_exactly_the_lines_that_hold_it(
    shared_repo: Scope, needle: str
) -> None:
    target = shared_repo.root / "literal" / "probe.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text(f"before\n<{needle}>\nafter\n", encoding="utf-8")
    grep = GrepTool(shared_repo, RG)
    arguments = {"pattern": needle, "literal": True, "path": "literal"}
    result = asyncio.run(grep.call(arguments))
    expected = [
        f"{number}:{line}"
        for number, line in enumerate(["before", f"<{needle}>", "after"], 1)
        if needle in line
    ]
    assert lines(result)[1:] == expected


LISTING: dict[str, st.SearchStrategy[object]] = {
    "pattern": st.one_of(st.sampled_from(["*.py", "-x", "src/**", "**"]), st.text(min_size=1)),
    "path": st.sampled_from([".", "src", "src/sub"]),
    "depth": st.integers(1, 1000),
    "limit": st.integers(1, 2000),
}


def valid_listing_arguments(tool: str, arguments: Mapping[str, object]) -> bool:
    known = {"pattern", "path", "limit"} if tool == "glob" else {"path", "depth", "limit"}
    pattern, path = arguments.get("pattern"), arguments.get("path")
    depth, limit = arguments.get("depth"), arguments.get("limit")

    def text(value: object) -> bool:
        return isinstance(value, str) and "\x00" not in value and not _surrogates(value)

    def integer(value: object, low: int, high: int) -> bool:
        return value is None or (
            isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        )

    checks = [
        set(arguments) <= known,
        tool != "glob" or (text(pattern) and pattern != "" and not str(pattern).startswith("!")),
        path is None or text(path),
        tool == "glob" or integer(depth, 1, 1_000),
        integer(limit, 1, 2_000),
    ]
    return all(checks)


@given(
    tool=st.sampled_from(["glob", "list_files"]),
    arguments=st.one_of(with_one_odd(LISTING, "pattern"), with_one_odd(LISTING, None)),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_listing_arguments_are_accepted_exactly_when_valid_and_never_crash(
    shared_repo: Scope, tool: str, arguments: dict[str, object]
) -> None:
    chosen = GlobTool(shared_repo, RG) if tool == "glob" else ListFilesTool(shared_repo, RG)
    result = asyncio.run(chosen.call(arguments))
    assert "\n" not in result.summary
    if not valid_listing_arguments(tool, arguments):
        assert result.is_error
    elif result.is_error:
        assert not argument_refusal(tool, result)
    else:
        assert all(not name.startswith((".git/", "build/")) for name in lines(result))


async def test_a_glob_never_brings_back_what_gitignore_leaves_out(scope: Scope) -> None:
    glob = GlobTool(scope, RG)
    assert (await call(glob, {"pattern": "*.log"})).summary == "no files in ."
    everything = lines(await call(glob, {"pattern": "*"}))
    assert "debug.log" not in everything
    assert "build/gen.py" not in everything
    assert "top.py" in everything
    grep = GrepTool(scope, RG)
    for output in ("content", "files", "count"):
        for pattern in ("*.log", "*", "build/**"):
            result = await call(grep, {"pattern": "ignored", "glob": pattern, "output": output})
            assert result.summary == "no matches", (output, pattern)
    kept = await call(grep, {"pattern": "needle", "glob": "*", "output": "files"})
    assert lines(kept) == [".config/c.py", "src/a.py", "top.py"]
