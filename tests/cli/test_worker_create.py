"""``yoi worker create`` with a workdir and a grant: a coder and its workdir in one step, on the
runtime that makes workdirs, narrowed as asked, and the backend's refusals as one line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from tests.cli.rig import refused_port
from tests.cli.worker_rig import INTERNAL, LOCAL, TOKEN, served
from tests.git_repo import git

from yoi.cli.app import app
from yoi.cli.worker_create import Order, choose_runtime, grant_request, workdir_note
from yoi.client import BackendClient
from yoi.client.backend import RuntimeInfo
from yoi.errors import InvalidRequest
from yoi.runtime import GrantRequest, NewWorkdir

CODER_BITS = "command, commit, edit, glob, grep, read, write"


async def test_a_coder_and_a_new_workdir_in_one_step(tmp_path: Path) -> None:
    async with served(tmp_path) as server:
        made = await server.yoi(
            *("create", "--profile", "coder", "--workdir", "new", "--id", "c1"),
            *("--base", "v1", "--branch", "work/c1"),
        )
        assert (made.code, made.out) == (0, "c1\n"), made.err
        detail = await server.runtime.get_worker("c1")
        assert detail.workdir is not None
        assert f"yoi: workdir {detail.workdir}; grant: {CODER_BITS}\n" in made.err
        assert "no file, shell or git tools" not in made.err
        assert {"read_file", "write_file", "edit_file", "git_commit"} <= set(detail.tools)
        assert server.runtime.workdirs is not None
        checkout = server.runtime.workdirs.path(detail.workdir)
        assert (checkout / "app.py").read_text() == "print('one')\n"
        assert git(checkout, "branch", "--show-current").strip() == "work/c1"

        shown = await server.yoi("show", "c1")
        assert f"workdir    {detail.workdir}" in shown.out.splitlines()
        assert f"grant      {CODER_BITS}" in shown.out.splitlines()


async def test_a_grant_narrows_the_profile_and_an_existing_workdir_is_shared(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as server:
        first = await server.yoi("create", "--profile", "coder", "--workdir", "new", "--json")
        assert first.code == 0, first.err
        workdir = json.loads(first.out)["worker"]["workdir"]
        narrowed = await server.yoi(
            *("create", "--profile", "coder", "--workdir", workdir, "--id", "peek"),
            *("--grant", "read, glob", "--grant-path", "docs", "--grant-path", "src"),
        )
        assert narrowed.code == 0, narrowed.err
        assert f"yoi: workdir {workdir}; grant: glob, read (under docs, src)\n" in narrowed.err
        detail = await server.runtime.get_worker("peek")
        assert detail.workdir == workdir
        assert "read_file" in detail.tools
        assert not {"write_file", "edit_file", "bash", "git_commit"} & set(detail.tools)


async def test_the_backends_refusals_are_one_line_and_leave_nothing_behind(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as server:
        network, unknown, no_workdir, missing = await asyncio.gather(
            server.yoi("create", "--profile", "coder", "--workdir", "new", "--grant", "network"),
            server.yoi("create", "--profile", "coder", "--workdir", "new", "--grant", "root"),
            server.yoi("create", "--profile", "coder", "--grant", "read"),
            server.yoi("create", "--profile", "coder", "--workdir", "wd-missing"),
        )
        assert server.runtime.workdirs is not None
        assert await server.runtime.workdirs.list() == []
        listed = (await server.runtime.list_workers()).items
    expected = [
        (network, "yoi: invalid_request: a grant narrows its profile's, never widens it: "),
        (unknown, "yoi: invalid_request: 'root' is not a capability"),
        (no_workdir, "yoi: invalid_request: a grant is of a workdir"),
        (missing, "yoi: workdir_not_found: "),
    ]
    for done, start in expected:
        assert done.code == 1, done
        assert done.out == ""
        assert start in done.err, done.err
        assert TOKEN not in done.err
    assert "the profile does not grant network" in network.err
    assert [worker.worker_id for worker in listed] == ["companion"]


async def test_a_coder_on_a_runtime_without_workdirs_is_told_so(tmp_path: Path) -> None:
    async with served(tmp_path, workdirs=False) as server:
        plain = await server.yoi("create", "--profile", "coder", "--id", "c1")
        refused = await server.yoi("create", "--profile", "builtin:reviewer", "--workdir", "new")
        helper = await server.yoi("create", "--id", "helper")
    assert (plain.code, plain.out) == (0, "c1\n"), plain.err
    assert plain.err == (
        f"yoi: runtime {INTERNAL} makes no workdirs: this coder gets no file, shell or git "
        f"tools (the backend's {LOCAL} runtime does; name one with --runtime)\n"
    )
    assert refused.code == 1
    assert refused.err.startswith("yoi: unsupported_operation: this runtime makes no workdirs")
    assert (helper.code, helper.out, helper.err) == (0, "helper\n", "")


async def test_a_coder_goes_to_the_local_runtime_when_the_backend_has_one(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, local=True) as server:
        made = await server.yoi("create", "--profile", "coder", "--workdir", "new", "--id", "c1")
        pinned = await server.yoi("create", "--profile", "coder", "--runtime", INTERNAL)
        assert made.code == 0, made.err
        assert f"yoi: on runtime {LOCAL}: name it with --runtime {LOCAL}\n" in made.err
        detail = await server.runtime.get_worker("c1")
        assert detail.workdir is not None
        assert "write_file" in detail.tools
        shown = await server.yoi("show", "c1", "--runtime", LOCAL)
        assert f"workdir    {detail.workdir}" in shown.out.splitlines()
        assert pinned.code == 0, pinned.err
        assert f"yoi: runtime {INTERNAL} makes no workdirs" in pinned.err


def _runtime(runtime_id: str, status: str = "available", *tools: str) -> RuntimeInfo:
    return RuntimeInfo.read(
        {
            "runtime_id": runtime_id,
            "display_name": runtime_id,
            "kind": "local" if runtime_id == LOCAL else "embedded",
            "status": status,
            "capabilities": [],
            "worker_count": 0,
            "busy_count": 0,
            "model": None,
            "diagnostics": [],
            "tools": list(tools),
        }
    )


def test_the_local_runtime_is_chosen_only_for_workdir_work_and_only_when_it_is_up() -> None:
    up = (_runtime(INTERNAL), _runtime(LOCAL, "available", "read_file"))
    down = (_runtime(INTERNAL), _runtime(LOCAL, "unavailable"))
    coder, new = Order(profile="coder"), Order(workdir=NewWorkdir())
    assert choose_runtime(coder, up) == LOCAL
    assert choose_runtime(new, up) == LOCAL
    assert choose_runtime(Order(profile="builtin:reviewer"), up) == LOCAL
    assert choose_runtime(Order(profile="default"), up) == INTERNAL
    assert choose_runtime(coder, down) == INTERNAL
    assert choose_runtime(coder, (_runtime(INTERNAL),)) == INTERNAL
    assert choose_runtime(Order(runtime_id="far", profile="coder"), up) == "far"


def test_a_note_only_for_a_coder_or_reviewer_that_would_get_no_workdir_tools() -> None:
    bare, tooled = _runtime(INTERNAL), _runtime(LOCAL, "available", "read_file")
    assert "makes no workdirs" in str(workdir_note(Order(profile="coder"), bare))
    assert "no --workdir" in str(workdir_note(Order(profile="reviewer"), tooled))
    assert workdir_note(Order(profile="coder", workdir=NewWorkdir()), tooled) is None
    assert workdir_note(Order(profile="default"), bare) is None
    assert workdir_note(Order(profile="coder"), _runtime(LOCAL, "unavailable")) is None
    assert workdir_note(Order(profile="coder"), None) is None


names = st.text(st.characters(codec="utf-8", exclude_characters=","), min_size=1).filter(
    lambda name: name.strip() == name and name.strip()
)


@given(bits=st.lists(names, min_size=1, max_size=8), paths=st.lists(st.text(), max_size=4))
def test_grant_bits_parse_to_exactly_the_names_given(bits: list[str], paths: list[str]) -> None:
    spaced = ", ".join(bits)
    assert grant_request(spaced, paths) == GrantRequest(tuple(bits), tuple(paths))
    assert grant_request(None, paths) == (GrantRequest(None, tuple(paths)) if paths else None)


@given(bits=st.lists(names, max_size=4), at=st.integers(min_value=0, max_value=4))
def test_an_empty_grant_bit_is_a_usage_error(bits: list[str], at: int) -> None:
    holed = [*bits[:at], " ", *bits[at:]]
    with pytest.raises(click.UsageError):
        grant_request(",".join(holed), ())


async def test_the_client_never_sends_a_repository_path_to_the_backend() -> None:
    with refused_port() as port:
        async with BackendClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(InvalidRequest, match="takes no path"):
                await client.create_worker(INTERNAL, workdir=NewWorkdir(repository="/etc"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "--base", "v1"], "--base and --branch go with --workdir new"),
        (["create", "--workdir", "wd-1", "--branch", "b"], "--base and --branch go with"),
        (["create", "--workdir", "new", "--grant", "read,,glob"], "comma-separated list"),
    ],
)
def test_create_usage_mistakes_are_refused_before_any_request(args: list[str], says: str) -> None:
    with refused_port() as port:
        result = CliRunner().invoke(app, ["worker", "--backend", f"http://127.0.0.1:{port}", *args])
    assert result.exit_code == 2
    assert says in result.output
