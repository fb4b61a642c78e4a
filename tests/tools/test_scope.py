"""Hostile tests of the Scope: every way out of a workdir is refused, against a real git repo."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yoi.errors import ScopeError
from yoi.tools import Capability, Grant, Scope

EVERYTHING = Grant(frozenset(Capability))
SECRET = b"outside the workdir\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print('inside')\n")
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("# guide\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    return root


@pytest.fixture
def scope(repo: Path) -> Iterator[Scope]:
    with Scope.open(repo, EVERYTHING) as opened:
        yield opened


def read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as file:
        return file.read()


def test_a_file_inside_is_read_through_its_descriptor(scope: Scope) -> None:
    assert read_all(scope.open_read("src/main.py")) == b"print('inside')\n"
    assert read_all(scope.open_read("./docs/../src//main.py")) == b"print('inside')\n"


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "..", "../outside/secret.txt", "src/../../outside/secret.txt"]
)
def test_absolute_paths_and_dot_dot_out_are_refused(scope: Scope, path: str) -> None:
    with pytest.raises(ScopeError) as refused:
        scope.open_read(path)
    assert refused.value.code == "scope_denied"


def test_an_absolute_path_is_refused_even_where_the_same_relative_one_exists(
    scope: Scope, repo: Path
) -> None:
    with pytest.raises(ScopeError, match="is absolute"):
        scope.open_read(f"/{repo.relative_to('/')}/src/main.py")
    (repo / "etc").mkdir()
    (repo / "etc" / "passwd").write_text("inside\n")
    with pytest.raises(ScopeError, match="is absolute"):
        scope.open_read("/etc/passwd")


def test_a_nul_byte_is_refused(scope: Scope) -> None:
    with pytest.raises(ScopeError, match="NUL"):
        scope.relative("src/main.py\x00.txt")


def test_a_lone_surrogate_is_refused(scope: Scope) -> None:
    with pytest.raises(ScopeError, match="lone surrogate"):
        scope.open_read("src/\ud800.py")


def test_a_symlink_to_a_file_outside_is_refused(scope: Scope, repo: Path) -> None:
    (repo / "leak.txt").symlink_to(repo.parent / "outside" / "secret.txt")
    with pytest.raises(ScopeError, match="symbolic link"):
        scope.open_read("leak.txt")
    with pytest.raises(ScopeError, match="symbolic link"):
        scope.open_write("leak.txt", create=True)
    assert (repo.parent / "outside" / "secret.txt").read_bytes() == SECRET


def test_a_symlink_to_a_directory_outside_is_refused(scope: Scope, repo: Path) -> None:
    (repo / "src" / "ext").symlink_to(repo.parent / "outside")
    with pytest.raises(ScopeError, match="ext"):
        scope.open_read("src/ext/secret.txt")
    with pytest.raises(ScopeError, match="ext"):
        scope.open_write("src/ext/new.txt", create=True)
    assert sorted(os.listdir(repo.parent / "outside")) == ["secret.txt"]


def test_a_directory_swapped_for_a_link_after_its_check_leaves_the_open_inside(
    scope: Scope, repo: Path
) -> None:
    parent, name = scope.open_parent("docs/guide.md", create=False)
    try:
        # The check is done: the descriptor holds the real directory. Swap the name for a link.
        (repo / "docs").rename(repo / "docs-moved")
        (repo / "docs").symlink_to(repo.parent / "outside")
        os.rename(repo.parent / "outside" / "secret.txt", repo.parent / "outside" / "guide.md")
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=parent)
    finally:
        os.close(parent)
    assert read_all(fd) == b"# guide\n"
    with pytest.raises(ScopeError, match="symbolic link"):
        scope.open_read("docs/guide.md")


def test_a_link_swapped_in_and_out_during_opens_never_reads_outside(
    scope: Scope, repo: Path
) -> None:
    (repo.parent / "outside" / "main.py").write_bytes(SECRET)
    (repo / "swap").symlink_to(repo.parent / "outside")
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        while not stop.is_set():
            os.rename(repo / "src", repo / "held")
            os.rename(repo / "swap", repo / "src")
            os.rename(repo / "src", repo / "swap")
            os.rename(repo / "held", repo / "src")
            swaps += 1

    thread = threading.Thread(target=swapper)
    thread.start()
    seen: set[bytes] = set()
    refused = attempts = 0
    deadline = time.monotonic() + 20
    try:
        # Until the race has shown both faces (an open that wins, one that meets the link).
        while attempts < 2000 or not (seen and refused):
            assert time.monotonic() < deadline, (attempts, seen, refused)
            attempts += 1
            try:
                seen.add(read_all(scope.open_read("src/main.py")))
            except ScopeError:
                refused += 1
    finally:
        stop.set()
        thread.join()
    assert swaps > 0
    assert seen == {b"print('inside')\n"}


def test_a_hard_linked_file_is_refused(scope: Scope, repo: Path) -> None:
    os.link(repo.parent / "outside" / "secret.txt", repo / "linked.txt")
    with pytest.raises(ScopeError, match="2 hard links"):
        scope.open_read("linked.txt")
    with pytest.raises(ScopeError, match="hard links"):
        scope.open_write("linked.txt", create=False)
    assert (repo.parent / "outside" / "secret.txt").read_bytes() == SECRET


@pytest.mark.parametrize(
    "path", [".git/config", ".git/hooks/pre-commit", "sub/.git/x", ".GIT/config", ".git"]
)
def test_writes_into_git_internals_are_refused(scope: Scope, path: str) -> None:
    with pytest.raises(ScopeError, match=r"\.git"):
        scope.open_write(path, create=True)
    with pytest.raises(ScopeError, match=r"\.git"):
        scope.open_parent(path, create=True)


def test_git_internals_may_be_read(scope: Scope) -> None:
    assert b"[core]" in read_all(scope.open_read(".git/config"))


@pytest.mark.parametrize("path", [".yoi/tickets/x.md", ".yoi/tickets", ".yoi/Tickets/new/a"])
def test_writes_into_the_ticket_store_are_refused(scope: Scope, repo: Path, path: str) -> None:
    with pytest.raises(ScopeError, match="ticket store"):
        scope.open_write(path, create=True)
    assert not (repo / ".yoi").exists()


def test_writes_elsewhere_create_their_directories(scope: Scope, repo: Path) -> None:
    fd = scope.open_write(".yoi/notes/today.md", create=True)
    os.write(fd, b"ok")
    os.close(fd)
    assert (repo / ".yoi" / "notes" / "today.md").read_bytes() == b"ok"


def test_a_sub_path_grant_reaches_only_its_paths(repo: Path) -> None:
    grant = Grant(frozenset({Capability.READ}), paths=("src",))
    with Scope.open(repo, grant) as narrow:
        assert read_all(narrow.open_read("src/main.py")) == b"print('inside')\n"
        for path in ("docs/guide.md", ".", "srcx/a", "src/../docs/guide.md"):
            with pytest.raises(ScopeError, match="outside the granted paths"):
                narrow.open_read(path)


def test_capabilities_are_required_bit_by_bit(repo: Path) -> None:
    with Scope.open(repo, Grant(frozenset({Capability.READ, Capability.GREP}))) as scope:
        scope.require(Capability.READ)
        scope.require(Capability.GREP)
        with pytest.raises(ScopeError, match="'write'"):
            scope.require(Capability.WRITE)


def test_a_fifo_is_refused_without_hanging(scope: Scope, repo: Path) -> None:
    os.mkfifo(repo / "pipe")
    with pytest.raises(ScopeError, match="not a regular file"):
        scope.open_read("pipe")


def test_a_missing_file_and_a_closed_scope_say_so(scope: Scope) -> None:
    with pytest.raises(ScopeError, match="does not exist"):
        scope.open_read("src/nothing.py")
    scope.close()
    with pytest.raises(ScopeError, match="closed"):
        scope.open_read("src/main.py")


def test_a_bad_grant_path_is_refused_at_open(repo: Path) -> None:
    with pytest.raises(ScopeError, match="leaves the workdir"):
        Scope.open(repo, Grant(frozenset(), paths=("../outside",)))


PIECES = st.sampled_from(
    ["a", "b", ".", "..", "", "/", ".git", "\x00", "é", " ", "\\", "~", "\ud800", "\udcff"]
)
PATHS = st.lists(PIECES, max_size=12).map("".join) | st.text(max_size=40)


@settings(max_examples=400, deadline=None)
@given(path=PATHS)
def test_any_path_resolves_inside_the_root_or_is_refused(path: str) -> None:
    root = Path("/work/root")
    scope = Scope(root, -1, EVERYTHING, ())
    try:
        relative = scope.relative(path)
    except ScopeError:
        return
    assert not relative.is_absolute()
    assert ".." not in relative.parts
    assert os.path.commonpath([root, os.path.normpath(root / relative)]) == str(root)
    assert scope.relative(str(relative)) == relative


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1), max_size=6
    )
)
def test_plain_names_keep_their_meaning(parts: list[str]) -> None:
    scope = Scope(Path("/work/root"), -1, EVERYTHING, ())
    names = [part for part in parts if part not in (".", "..")]
    assert scope.relative("/".join(names)) == PurePosixPath(*names)


HOSTILE_PIECES = st.sampled_from(
    ["src", "main.py", "leak", "ext", "secret.txt", "linked", "pipe", "..", ".", ".git", "new"]
)
HOSTILE_PATHS = st.lists(HOSTILE_PIECES, min_size=1, max_size=5).map("/".join)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=HOSTILE_PATHS, create=st.booleans())
def test_no_path_through_links_reads_or_writes_outside(
    scope: Scope, repo: Path, path: str, create: bool
) -> None:
    outside = repo.parent / "outside"
    if not (repo / "leak").is_symlink():
        (repo / "leak").symlink_to(outside / "secret.txt")
        (repo / "src" / "ext").symlink_to(outside)
        os.link(outside / "secret.txt", repo / "linked")
        os.mkfifo(repo / "pipe")
    openers: list[Callable[[], int]] = [
        lambda: scope.open_read(path),
        lambda: scope.open_write(path, create=create),
    ]
    for opener in openers:
        try:
            fd = opener()
        except ScopeError:
            continue
        try:
            opened = Path(os.path.realpath(f"/proc/self/fd/{fd}"))
            assert opened == repo or repo in opened.parents
        finally:
            os.close(fd)
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == SECRET
