"""read_file, write_file and edit_file against real temporary git repositories."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tracemalloc
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yoi.engine import ToolLimits
from yoi.engine.tool import ToolResult
from yoi.tools import Capability, FileTools, Grant, ReadLedger, Scope
from yoi.tools.files import MAX_EDIT_BYTES

ALL = frozenset(Capability)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "notes.txt").write_text("".join(f"line {n}\n" for n in range(1, 6)))
    return root


def tools_for(repo: Path, capabilities: frozenset[Capability] = ALL) -> FileTools:
    return FileTools(Scope.open(repo, Grant(capabilities)))


@pytest.fixture
def files(repo: Path) -> Iterator[FileTools]:
    tools = tools_for(repo)
    yield tools
    tools.scope.close()


async def read(files: FileTools, path: str, **more: object) -> ToolResult:
    return await files.read_file.call({"path": path, **more})


async def test_read_file_numbers_lines_and_counts_them(files: FileTools) -> None:
    result = await read(files, "notes.txt")
    assert not result.is_error
    assert result.summary == "read notes.txt: lines 1-5 of 5"
    assert result.content == "".join(f"{n:>6}\tline {n}\n" for n in range(1, 6))


async def test_read_file_pages_with_offset_and_limit(files: FileTools) -> None:
    result = await read(files, "notes.txt", offset=2, limit=2)
    assert result.summary == "read notes.txt: lines 2-3 of 5"
    assert result.content == (
        "     2\tline 2\n     3\tline 3\n[… more lines: call read_file again with offset=4]\n"
    )
    past = await read(files, "notes.txt", offset=9)
    assert past.is_error
    assert past.summary == "offset 9 is past the end of notes.txt (5 lines)"


async def test_read_file_refuses_directories_and_binary_files(files: FileTools, repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    directory = await read(files, "src")
    assert directory.is_error
    assert "src is a directory" in directory.summary
    binary = await read(files, "logo.png")
    assert binary.is_error
    assert "logo.png is a binary file (16 bytes)" in binary.summary


async def test_read_file_reports_empty_and_missing_files(files: FileTools, repo: Path) -> None:
    (repo / "empty.txt").write_bytes(b"")
    empty = await read(files, "empty.txt")
    assert (empty.is_error, empty.summary) == (False, "read empty.txt: empty file (0 lines)")
    missing = await read(files, "gone.txt")
    assert (missing.is_error, missing.summary) == (True, "read_file: gone.txt does not exist")


async def test_strings_no_file_can_hold_are_error_results(files: FileTools, repo: Path) -> None:
    results = [
        await read(files, "\ud800.txt"),
        await files.write_file.call({"path": "new.txt", "content": "half a pair: \ud800"}),
    ]
    assert [result.is_error for result in results] == [True, True]
    assert "lone surrogate" in results[0].summary
    assert "content is not valid Unicode" in results[1].summary
    assert not (repo / "new.txt").exists()


async def test_refusals_are_worded_by_the_reader_every_tool_shares(files: FileTools) -> None:
    unknown = await read(files, "notes.txt", whole=True)
    assert unknown.summary == "read_file: unknown arguments: 'whole'"
    missing = await files.write_file.call({"content": "x"})
    assert missing.summary == "write_file: path is required"
    flag = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "a", "new_string": "b", "replace_all": "yes"}
    )
    assert flag.summary == "edit_file: replace_all must be true or false"


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


async def test_a_1_gb_file_is_read_only_as_far_as_the_page_needs(
    files: FileTools, repo: Path
) -> None:
    with (repo / "huge.log").open("wb") as huge:
        huge.write(b"".join(b"entry %d\n" % n for n in range(100_000)))
        huge.truncate(1 << 30)  # sparse: a gigabyte of size, a megabyte of disk
    before = bytes_read()
    result = await read(files, "huge.log", limit=10)
    assert bytes_read() - before < 1 << 20
    assert result.summary == f"read huge.log: lines 1-10 of more ({1 << 30} bytes, not counted)"
    assert result.text.endswith("offset=11]\n")


async def test_a_page_ends_on_a_whole_line_before_the_engine_would_cut_it(
    files: FileTools, repo: Path
) -> None:
    (repo / "wide.txt").write_text("".join(f"{n:04} " + "w" * 95 + "\n" for n in range(1000)))
    result = await read(files, "wide.txt")
    shown = result.text.splitlines()
    assert len(result.text) <= ToolLimits().max_output
    assert result.summary == f"read wide.txt: lines 1-{len(shown) - 1} of 1000"
    assert shown[-2].startswith(f"{len(shown) - 1:>6}\t{len(shown) - 2:04} ")
    assert shown[-1] == f"[… more lines: call read_file again with offset={len(shown)}]"


async def test_a_line_without_an_end_is_held_only_as_far_as_it_is_shown(
    files: FileTools, repo: Path
) -> None:
    with (repo / "one.line").open("wb") as line:
        line.write(b"y" * 10_000)
        line.truncate(64 << 20)  # sparse: 64 MiB of one line, no newline anywhere
    tracemalloc.start()
    try:
        result = await read(files, "one.line", limit=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert result.text == "     1\t" + "y" * 2000 + " [… line truncated]\n"


async def test_an_overlong_line_is_cut_and_the_next_one_still_read(
    files: FileTools, repo: Path
) -> None:
    (repo / "min.js").write_text("x" * 50_000 + "\nsecond\n")
    result = await read(files, "min.js")
    lines = result.text.splitlines()
    assert lines[0] == "     1\t" + "x" * 2000 + " [… line truncated]"
    assert lines[1] == "     2\tsecond"
    assert result.summary == "read min.js: lines 1-2 of 2"


async def test_read_file_stays_in_its_scope(files: FileTools, repo: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("key\n")
    (repo / "link").symlink_to(tmp_path / "secret")
    for path in ("../secret", "/etc/hostname", "link"):
        result = await read(files, path)
        assert result.is_error, path
        assert "key" not in result.text


async def test_write_file_creates_a_file_and_its_directories(files: FileTools, repo: Path) -> None:
    result = await files.write_file.call({"path": "src/pkg/new.py", "content": "a = 1\nb = 2\n"})
    assert (result.is_error, result.summary) == (False, "created src/pkg/new.py: 2 lines, 12 bytes")
    assert (repo / "src" / "pkg" / "new.py").read_text() == "a = 1\nb = 2\n"
    assert sorted(os.listdir(repo / "src" / "pkg")) == ["new.py"]  # no temporary left behind


async def test_write_file_refuses_an_existing_file_it_has_not_read(
    files: FileTools, repo: Path
) -> None:
    result = await files.write_file.call({"path": "notes.txt", "content": "gone\n"})
    assert result.is_error
    assert "notes.txt exists; read it with read_file before changing it" in result.summary
    assert (repo / "notes.txt").read_text().startswith("line 1\n")


async def test_write_file_replaces_a_read_file_atomically_keeping_its_mode(
    files: FileTools, repo: Path
) -> None:
    script = repo / "run.sh"
    script.write_text("echo old\n")
    script.chmod(0o754)
    await read(files, "run.sh")
    with script.open() as held:  # a reader of the old file keeps the old file
        result = await files.write_file.call({"path": "run.sh", "content": "echo new\n"})
        assert held.read() == "echo old\n"
    assert result.summary == "replaced run.sh: 1 lines, 9 bytes"
    assert script.read_text() == "echo new\n"
    assert script.stat().st_mode & 0o777 == 0o754


async def test_a_file_changed_after_its_read_is_not_overwritten(
    files: FileTools, repo: Path
) -> None:
    await read(files, "notes.txt")
    (repo / "notes.txt").write_text("someone else's change\n")
    for call in (
        files.write_file.call({"path": "notes.txt", "content": "mine\n"}),
        files.edit_file.call({"path": "notes.txt", "old_string": "else", "new_string": "x"}),
    ):
        result = await call
        assert result.is_error
        assert "notes.txt changed since it was read; read it again first" in result.summary
    assert (repo / "notes.txt").read_text() == "someone else's change\n"


async def test_writes_into_git_and_the_ticket_store_are_error_results(
    files: FileTools, repo: Path
) -> None:
    config = (repo / ".git" / "config").read_bytes()
    for path in (".git/config", ".git/hooks/pre-commit", ".yoi/tickets/01.md"):
        result = await files.write_file.call({"path": path, "content": "x"})
        assert result.is_error, path
    assert (repo / ".git" / "config").read_bytes() == config
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()
    assert not (repo / ".yoi").exists()


async def test_edit_file_replaces_one_exact_match(files: FileTools, repo: Path) -> None:
    await read(files, "notes.txt")
    result = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "line 3\n", "new_string": "third\n"}
    )
    assert (result.is_error, result.summary) == (False, "edited notes.txt: replaced 1 occurrence")
    assert (repo / "notes.txt").read_text() == "line 1\nline 2\nthird\nline 4\nline 5\n"
    again = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "third", "new_string": "3rd"}
    )
    assert not again.is_error  # its own write counts as read


async def test_edit_file_says_how_many_matches_it_found(files: FileTools, repo: Path) -> None:
    await read(files, "notes.txt")
    missing = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "line 9", "new_string": "x"}
    )
    assert missing.is_error
    assert "old_string not found in notes.txt (0 matches)" in missing.summary
    many = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "line", "new_string": "L"}
    )
    assert many.is_error
    assert "old_string matches 5 times in notes.txt" in many.summary
    assert (repo / "notes.txt").read_text().count("line") == 5
    every = await files.edit_file.call(
        {"path": "notes.txt", "old_string": "line", "new_string": "L", "replace_all": True}
    )
    assert every.summary == "edited notes.txt: replaced 5 occurrences"
    assert (repo / "notes.txt").read_text() == "L 1\nL 2\nL 3\nL 4\nL 5\n"


async def test_edit_file_refuses_unread_binary_and_non_utf8_files(
    files: FileTools, repo: Path
) -> None:
    unread = await files.edit_file.call({"path": "notes.txt", "old_string": "1", "new_string": "2"})
    assert "read it with read_file before changing it" in unread.summary
    (repo / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    await read(files, "latin1.txt")
    latin = await files.edit_file.call({"path": "latin1.txt", "old_string": "c", "new_string": "k"})
    assert (latin.is_error, "is not UTF-8 text" in latin.summary) == (True, True)
    assert (repo / "latin1.txt").read_bytes() == "café\n".encode("latin-1")


async def test_edit_file_refuses_a_file_too_large_to_hold(files: FileTools, repo: Path) -> None:
    with (repo / "big.txt").open("wb") as big:
        big.write(b"needle\n" + b"text\n" * 2000)  # text for as far as read_file looks
        big.truncate(MAX_EDIT_BYTES + 1)
    await read(files, "big.txt")
    result = await files.edit_file.call(
        {"path": "big.txt", "old_string": "needle", "new_string": "x"}
    )
    assert result.is_error
    assert f"big.txt is over {MAX_EDIT_BYTES} bytes; too large to edit" in result.summary
    assert (repo / "big.txt").read_bytes()[:7] == b"needle\n"


@pytest.mark.parametrize(
    ("bit", "name", "arguments"),
    [
        (Capability.READ, "read_file", {"path": "notes.txt"}),
        (Capability.WRITE, "write_file", {"path": "new.txt", "content": "x"}),
        (
            Capability.EDIT,
            "edit_file",
            {"path": "notes.txt", "old_string": "line 1", "new_string": "x"},
        ),
    ],
)
async def test_each_tool_needs_its_capability(
    repo: Path, bit: Capability, name: str, arguments: Mapping[str, object]
) -> None:
    ledger = ReadLedger()
    everything = FileTools(Scope.open(repo, Grant(ALL)), ledger)
    await everything.read_file.call({"path": "notes.txt"})
    without = FileTools(Scope.open(repo, Grant(ALL - {bit})), ledger)
    tool = {tool.name: tool for tool in without.tools}[name]
    result = await tool.call(arguments)
    assert result.is_error
    assert f"has no {bit.value!r} capability" in result.summary
    assert not (repo / "new.txt").exists()
    assert (repo / "notes.txt").read_text().startswith("line 1\n")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
PATH_VALUES = st.sampled_from(
    ["notes.txt", "./notes.txt", "gone", "../x", "/etc/hostname", "", "\ud800.txt", "a\x00b"]
)
READ_ARGUMENTS = st.dictionaries(
    st.sampled_from(["path", "offset", "limit", "extra"]),
    PATH_VALUES | st.integers(-3, 2500) | JSON,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arguments=READ_ARGUMENTS)
def test_any_read_arguments_are_a_page_or_an_error_result(
    files: FileTools, arguments: dict[str, object]
) -> None:
    result = asyncio.run(files.read_file.call(arguments))
    assert "\n" not in result.summary
    if result.is_error:
        return
    assert set(arguments) <= {"path", "offset", "limit"}
    assert arguments["path"] in ("notes.txt", "./notes.txt")
    offset, limit = arguments.get("offset", 1), arguments.get("limit", 2000)
    assert type(offset) is int
    assert type(limit) is int
    assert 1 <= offset <= 5
    assert 1 <= limit <= 2000
    shown = range(offset, min(5, offset + limit - 1) + 1)
    assert result.text.startswith("".join(f"{n:>6}\tline {n}\n" for n in shown))


TEXT = st.text(st.sampled_from("ab\n"), max_size=12)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=TEXT,
    old=TEXT | JSON,
    new=TEXT | JSON,
    replace_all=st.none() | st.booleans() | JSON,
)
def test_any_edit_applies_exactly_its_meaning_or_changes_nothing(
    repo: Path, content: str, old: object, new: object, replace_all: object
) -> None:
    (repo / "t.txt").write_text(content)
    arguments: dict[str, object] = {"path": "t.txt", "old_string": old, "new_string": new}
    if replace_all is not None:
        arguments["replace_all"] = replace_all
    with tools_for(repo).scope as scope:
        files = FileTools(scope)
        asyncio.run(files.read_file.call({"path": "t.txt"}))
        result = asyncio.run(files.edit_file.call(arguments))
    after = (repo / "t.txt").read_text()
    assert "\n" not in result.summary
    if result.is_error:
        assert after == content
        return
    assert isinstance(old, str)
    assert isinstance(new, str)
    assert old
    assert old != new
    every = replace_all is True
    assert content.count(old) == 1 or (every and content.count(old) > 1)
    assert after == content.replace(old, new)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.text(st.sampled_from("ab\r é"), max_size=160), max_size=1500),
    newline_at_end=st.booleans(),
    offset=st.integers(1, 1600),
    limit=st.integers(1, 60),
)
def test_any_page_is_exactly_those_lines_of_the_file(
    files: FileTools, repo: Path, lines: list[str], newline_at_end: bool, offset: int, limit: int
) -> None:
    data = ("\n".join(lines) + ("\n" if newline_at_end else "")).encode()
    (repo / "page.txt").write_bytes(data)
    result = asyncio.run(read(files, "page.txt", offset=offset, limit=limit))
    every = data.split(b"\n")
    if not data or data.endswith(b"\n"):
        every.pop()
    wanted = [line.removesuffix(b"\r").decode() for line in every[offset - 1 : offset - 1 + limit]]
    if not every:
        assert result.summary == "read page.txt: empty file (0 lines)"
    elif not wanted:
        assert result.summary == f"offset {offset} is past the end of page.txt ({len(every)} lines)"
    else:
        last = offset + len(wanted) - 1
        assert result.summary == f"read page.txt: lines {offset}-{last} of {len(every)}"
        numbered = "".join(f"{n:>6}\t{line}\n" for n, line in enumerate(wanted, offset))
        more = f"[… more lines: call read_file again with offset={last + 1}]\n"
        assert result.text == numbered + (more if last < len(every) else "")


async def test_a_narrowed_grant_reads_only_its_paths_and_writes_nothing(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("app = 1\n")
    with Scope.open(repo, Grant(frozenset({Capability.READ}), paths=("src",))) as scope:
        reviewer = FileTools(scope)
        assert not (await read(reviewer, "src/app.py")).is_error
        outside = await read(reviewer, "notes.txt")
        assert "notes.txt is outside the granted paths (src)" in outside.summary
        write = await reviewer.write_file.call({"path": "src/app.py", "content": "app = 2\n"})
        assert "has no 'write' capability" in write.summary
    assert (repo / "src" / "app.py").read_text() == "app = 1\n"
