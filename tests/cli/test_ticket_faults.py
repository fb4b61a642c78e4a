"""``yoi ticket`` when the disk refuses a write, or the writer dies mid-way: nothing stays.

A real process is the point: it runs under a file size limit (``RLIMIT_FSIZE``).
With ``SIGXFSZ`` ignored, a write past the limit fails part-way with ``EFBIG``
the way one fails with ``ENOSPC`` on a full disk, without filling one; with
``SIGXFSZ`` left to its default, the same write kills the writer on the spot.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from tests.cli.rig import cli_env

from yoi.cli.app import app
from yoi.tickets import TicketStore
from yoi.tickets.doctor import diagnose

AUTHOR = "alice"
DEADLINE = 60.0
# Sets what SIGXFSZ does (after the interpreter's start, which ignores it) and limits the
# files this process may grow, then runs `python -m yoi ARGS` in it.
LIMITED = (
    "import resource, runpy, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, getattr(signal, sys.argv[1]))\n"
    "limit = int(sys.argv[2])\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "sys.argv = ['yoi', *sys.argv[3:]]\n"
    "runpy.run_module('yoi', run_name='__main__', alter_sys=True)\n"
)


def limited_yoi(
    ws: Path, limit: int, *args: str, killed: bool = False
) -> subprocess.CompletedProcess[str]:
    """``yoi ticket ARGS`` that may grow no file past ``limit`` bytes; a write past it fails
    (or, ``killed``, ends the process by ``SIGXFSZ``)."""
    on_limit = "SIG_DFL" if killed else "SIG_IGN"
    command = [
        sys.executable,
        "-c",
        LIMITED,
        on_limit,
        str(limit),
        "ticket",
        "--workspace",
        str(ws),
    ]
    return subprocess.run(
        [*command, "--author", AUTHOR, "--json", *args],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        cwd=ws,
        env=cli_env("x", PYTHONDONTWRITEBYTECODE="1"),
    )


def new_ticket(ws: Path, body: str = "") -> tuple[TicketStore, str]:
    (ws / "body.md").write_text(body, encoding="utf-8")
    args = ["ticket", "--workspace", str(ws), "--author", AUTHOR, "--json", "create"]
    result = CliRunner().invoke(app, [*args, "--title", "T", "--body-file", str(ws / "body.md")])
    assert result.exit_code == 0, result.output
    return TicketStore.for_workspace(ws), json.loads(result.stdout)["id"]


def refused_as_full(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("yoi ticket: the disk has no room for this ticket change")
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "store_full"


def test_a_comment_the_disk_refuses_leaves_no_part_of_itself(tmp_path: Path) -> None:
    store, ticket = new_ticket(tmp_path)
    thread = store.root / ticket / "thread.md"
    before = thread.read_bytes()
    (tmp_path / "big.md").write_text("x" * 50_000, encoding="utf-8")

    done = limited_yoi(tmp_path, len(before) + 12_000, "comment", ticket, "--file", "big.md")

    assert thread.read_bytes() == before
    refused_as_full(done)
    # Once there is room again, the next comment is whole and nothing torn shows up.
    store.comment(ticket, "Room again.", author=AUTHOR)
    assert [e.body for e in store.get(ticket).events][1:] == ["Room again."]
    assert store.get(ticket).problems == ()
    assert diagnose(store.root).findings == ()


def test_an_event_appended_before_a_refused_front_matter_write_is_taken_back(
    tmp_path: Path,
) -> None:
    """The thread has room for the comment, ``item.md`` (a long body) has none for its rewrite."""
    store, ticket = new_ticket(tmp_path, body="y" * 20_000)
    thread, item = store.root / ticket / "thread.md", store.root / ticket / "item.md"
    before = (thread.read_bytes(), item.read_bytes())

    done = limited_yoi(tmp_path, len(before[0]) + 1_000, "comment", ticket, "--message", "Hi.")

    assert (thread.read_bytes(), item.read_bytes()) == before
    refused_as_full(done)
    assert diagnose(store.root).findings == ()


def test_a_new_ticket_left_by_a_killed_writer_is_reported_ignored_and_swept(
    tmp_path: Path,
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    store, ticket = new_ticket(tmp_path)
    store.init()
    (tmp_path / "big.md").write_text("z" * 5_000, encoding="utf-8")

    done = limited_yoi(
        tmp_path, 2_000, "create", "--title", "Big", "--body-file", "big.md", killed=True
    )

    assert done.returncode == -signal.SIGXFSZ
    [left] = [p.name for p in store.root.iterdir() if p.name.startswith(".new-")]
    assert [(f.severity, f.code, f.path) for f in diagnose(store.root).findings] == [
        ("warning", "unfinished_ticket", left)
    ]
    untracked = subprocess.run(
        ["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f".yoi/tickets/{ticket}/item.md" in untracked
    assert ".new-" not in untracked

    store.comment(ticket, "The next write.", author=AUTHOR)

    assert not (store.root / left).exists()
    assert diagnose(store.root).findings == ()
    assert [s.id for s in store.listing().items] == [ticket]
