"""``yoi ticket``: the real command in-process against real stores, and a few real processes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.cli.rig import cli_env, run_yoi
from tests.tickets.rig import copy_sample, snapshot

from yoi.cli.app import app
from yoi.tickets import TicketStore
from yoi.tickets.doctor import diagnose
from yoi.tickets.thread import parse_thread
from yoi.tickets.wire import detail_dict

AUTHOR = "alice"
LINKED = "00001KVZKSTJT"
"""A done sample ticket: depends on two tickets, three depend on it, two plan records."""
CLOSED = "00001KSKBP9YG"
"""A closed sample ticket with review artifacts and a resolution."""
MISSING = "0000000000000"
SUMMARY_HEADER = ["ID", "STATE", "TITLE", "UPDATED_AT"]
BAD_ID = (
    "ticket id must be 13 characters of Crockford base 32 "
    "(0-9 and A-Z but U, in either case; I and L read as 1, O as 0)"
)


def yoi(ws: Path, *args: str, input: str | None = None, author: str | None = AUTHOR) -> Result:
    """``yoi ticket --workspace WS [--author A] ARGS``; no run may end in a traceback."""
    who = ["--author", author] if author is not None else []
    result = CliRunner().invoke(app, ["ticket", "--workspace", str(ws), *who, *args], input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def table(ws: Path, *args: str, input: str | None = None) -> list[list[str]]:
    """A successful command's text output, split into rows and tab-separated cells."""
    return rows(ok(yoi(ws, *args, input=input)))


def doc(ws: Path, *args: str, input: str | None = None) -> Any:
    """A successful command's ``--json`` document (the flag given on the group)."""
    return json.loads(ok(yoi(ws, "--json", *args, input=input)))


def rows(text: str) -> list[list[str]]:
    return [line.split("\t") if line else [] for line in text.splitlines()]


def failed(result: Result, code: str | None = None) -> str:
    """The one stderr line of a failed command; with ``code``, the JSON envelope's code too."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("yoi ticket: ")
    assert result.stderr.count("\n") == 1
    if code is not None:
        assert json.loads(result.stdout)["error"]["code"] == code
    return result.stderr.removeprefix("yoi ticket: ").rstrip("\n")


def create(ws: Path, title: str, *extra: str, input: str | None = None) -> str:
    return str(doc(ws, "create", "--title", title, *extra, input=input)["id"])


def events(ws: Path, ticket: str) -> list[tuple[str, str | None, str]]:
    """(kind, heading, body) of every event in the ticket's thread.md, read from the file."""
    text = (ws / ".yoi" / "tickets" / ticket / "thread.md").read_text(encoding="utf-8")
    return [(e.kind, e.heading, e.body.strip()) for e in parse_thread(text).events]


def state_of(ws: Path, ticket: str) -> str:
    return str(doc(ws, "show", ticket)["meta"]["state"])


def tickets(ws: Path) -> Path:
    return ws / ".yoi" / "tickets"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return copy_sample(tmp_path)


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    workspace = tmp_path / "empty"
    workspace.mkdir()
    return workspace


# init, list, show


def test_init_creates_the_store_and_the_cache_folder_and_reports_them(empty: Path) -> None:
    assert table(empty, "init") == [
        ["ITEM", "PATH", "STATUS"],
        ["tickets", ".yoi/tickets", "0 tickets, 0 invalid"],
        ["config", ".yoi/ticket.config.toml", "absent, language en"],
        ["state", ".yoi/state", "present"],
    ]
    assert tickets(empty).is_dir()
    assert (empty / ".yoi" / "state").is_dir()
    ignore = (empty / ".yoi" / ".gitignore").read_bytes()
    assert set(ignore.decode().splitlines()) == {
        "state/",
        "tickets/.ticket-backend.lock",
        "tickets/.new-*/",
    }
    again = json.loads(ok(yoi(empty, "init", "--json")))
    assert again["tickets"] == {"path": ".yoi/tickets", "count": 0, "invalid": 0}
    assert again["config"] == {
        "path": ".yoi/ticket.config.toml",
        "present": False,
        "language": "en",
    }
    assert (empty / ".yoi" / ".gitignore").read_bytes() == ignore


def test_init_on_the_sample_counts_its_tickets_and_starts_the_cache(sample: Path) -> None:
    report = doc(sample, "init")
    assert report["tickets"]["count"] == 23
    assert report["config"]["present"] is True
    assert report["config"]["language"] == "ja"
    assert (sample / ".yoi" / "state" / "ticket-index.json").is_file()


def test_list_prints_every_sample_ticket_as_a_table(sample: Path) -> None:
    listed = table(sample, "list")
    assert listed[0] == SUMMARY_HEADER
    assert [len(row) for row in listed] == [4] * 24
    assert [row[0] for row in listed[1:]] == sorted(p.name for p in tickets(sample).iterdir())
    title = "Runtime/Backend WebSocket observation proxyを実装する"
    assert listed[18] == [LINKED, "done", title, "2026-06-26T05:16:51Z"]


def test_list_json_reports_the_total_beside_what_the_limit_returns(sample: Path) -> None:
    limited = json.loads(ok(yoi(sample, "list", "--json", "--limit", "5")))
    assert (limited["total"], limited["returned"], len(limited["items"])) == (23, 5, 5)
    assert limited["invalid_records"] == []
    assert doc(sample, "list", "--limit", "5") == limited
    done = doc(sample, "list", "--state", "done", "--limit", "2")
    assert (done["total"], done["returned"]) == (10, 2)
    assert {item["state"] for item in done["items"]} == {"done"}
    text = yoi(sample, "list", "--limit", "5")
    assert len(rows(ok(text))) == 6
    assert text.stderr == "yoi ticket: 5 of 23 shown\n"


def test_list_filters_by_state_and_query(sample: Path) -> None:
    assert [row[0] for row in table(sample, "list", "--state", "planning")] == [
        "ID",
        "00001KVV01P5Z",
    ]
    assert [row[0] for row in table(sample, "list", "--query", "websocket observation")] == [
        "ID",
        LINKED,
    ]
    assert yoi(sample, "list", "--state", "waiting").exit_code == 2


def test_show_prints_meta_body_events_relations_both_ways_and_plans(sample: Path) -> None:
    text = ok(yoi(sample, "show", LINKED))
    title = "Runtime/Backend WebSocket observation proxyを実装する"
    assert text.startswith(f"id\t{LINKED}\ntitle\t{title}\nstate\tdone\n")
    assert "\nqueued_by\tworkspace-panel\n" in text
    assert "\n## 背景\n" in text
    assert f"\n== events ({len(events(sample, LINKED))})\ncreate\t" in text
    assert "\n== relations (5)\nout\tdepends_on\t00001KVZBCQH4\tEvent stream server" in text
    assert "\nin\tdependency_of\t00001KW04A8K6\tTUI output observation" in text
    assert f"\norch-plan-20260626-042150-2\t{LINKED}\taccepted_plan\t-\t" in text
    closed = ok(yoi(sample, "show", CLOSED))
    resolution = (tickets(sample) / CLOSED / "resolution.md").read_text().rstrip("\n")
    assert "\n== resolution (1)\n" + resolution in closed
    assert "\nreview-2026-06-13-e2e-harness.md\n" in closed


def test_show_json_is_the_wire_detail_of_the_store(sample: Path) -> None:
    shown = json.loads(ok(yoi(sample, "show", LINKED, "--json")))
    expected = detail_dict(TicketStore.for_workspace(sample).get(LINKED))
    assert shown == json.loads(json.dumps(expected))
    assert shown["relations"]["incoming"][0]["kind"] == "dependency_of"


# creating and writing


def test_create_takes_the_body_from_a_file_or_stdin_and_writes_japanese_texts(
    sample: Path, tmp_path: Path
) -> None:
    body = tmp_path / "body.md"
    body.write_text("# 目的\n\n本文です。\n", encoding="utf-8")
    created = table(sample, "create", "--title", "新しい Ticket", "--body-file", str(body))
    assert created[0] == SUMMARY_HEADER
    assert created[1][1:3] == ["planning", "新しい Ticket"]
    ticket = created[1][0]
    item = (tickets(sample) / ticket / "item.md").read_text(encoding="utf-8")
    assert "title: '新しい Ticket'\n" in item
    assert item.endswith("\n# 目的\n\n本文です。\n")
    assert events(sample, ticket) == [("create", "作成", "yoi によって作成されました。")]
    assert (tickets(sample) / ticket / "artifacts" / ".gitkeep").is_file()
    piped = doc(sample, "create", "--title", "Piped", "--body-file", "-", input="stdin body\n")
    assert (piped["state"], piped["title"], piped["queued_by"]) == ("planning", "Piped", None)
    assert (tickets(sample) / piped["id"] / "item.md").read_text().endswith("\nstdin body\n")


def test_english_workspace_writes_english_default_texts(empty: Path) -> None:
    ticket = create(empty, "Plain")
    ok(yoi(empty, "state", ticket, "ready"))
    assert events(empty, ticket) == [
        ("create", "Created", "Created with yoi."),
        ("intake_summary", "Intake summary", "Marked ready without a written intake summary."),
        ("state_changed", "State changed", "State changed from `planning` to `ready`."),
    ]


def test_ready_with_a_summary_writes_it_and_japanese_defaults_otherwise(sample: Path) -> None:
    first, second = create(sample, "一"), create(sample, "二")
    ok(yoi(sample, "state", first, "ready", "--summary", "Scope agreed."))
    ok(yoi(sample, "state", second, "ready"))
    assert events(sample, first)[1] == ("intake_summary", "Intake summary", "Scope agreed.")
    japanese = "Intake summary の記述なしで ready にしました。"
    assert events(sample, second)[1] == ("intake_summary", "Intake summary", japanese)
    assert events(sample, second)[2][2] == "state を `planning` から `ready` に変更しました。"
    assert yoi(sample, "state", second, "planning", "--summary", "x").exit_code == 2


def test_unreadable_body_files_are_clear_errors_and_write_nothing(
    sample: Path, tmp_path: Path
) -> None:
    before = snapshot(tickets(sample))
    latin = tmp_path / "latin1.md"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    message = failed(yoi(sample, "create", "--title", "T", "--body-file", str(latin)))
    assert message == f"body file {latin} is not UTF-8 text (byte 3)"
    nowhere = tmp_path / "nope.md"
    missing = yoi(sample, "--json", "comment", LINKED, "--file", str(nowhere))
    assert failed(missing, "invalid_request").startswith(f"cannot read message file {nowhere}: ")
    huge = tmp_path / "huge.md"
    huge.write_bytes(b"x" * (256 * 1024 + 1))
    too_big = yoi(sample, "--json", "create", "--title", "T", "--body-file", str(huge))
    assert "more than 262,144 bytes" in failed(too_big, "payload_too_large")
    assert snapshot(tickets(sample)) == before


def test_comment_roles_append_events_and_print_them(sample: Path, tmp_path: Path) -> None:
    assert table(sample, "comment", LINKED, "--message", "First note.")[0] == [
        "TICKET_ID",
        "KIND",
        "AUTHOR",
        "AT",
        "HEADING",
    ]
    report = tmp_path / "report.md"
    report.write_text("Tests pass.\n", encoding="utf-8")
    role = ("--role", "implementation_report")
    added = json.loads(ok(yoi(sample, "comment", LINKED, *role, "--file", str(report), "--json")))
    assert {k: added[k] for k in ("ticket_id", "kind", "author", "body")} == {
        "ticket_id": LINKED,
        "kind": "implementation_report",
        "author": AUTHOR,
        "body": "Tests pass.",
    }
    decision = table(sample, "comment", LINKED, "--role", "decision", "--file", "-", input="Go.\n")
    assert decision[1][:3] == [LINKED, "decision", AUTHOR]
    assert decision[1][4] == "Decision"
    assert events(sample, LINKED)[-3:] == [
        ("comment", "Comment", "First note."),
        ("implementation_report", "Implementation report", "Tests pass."),
        ("decision", "Decision", "Go."),
    ]
    assert yoi(sample, "comment", LINKED).exit_code == 2
    assert yoi(sample, "comment", LINKED, "--message", "a", "--file", "-").exit_code == 2
    assert yoi(sample, "comment", LINKED, "--role", "review", "--message", "a").exit_code == 2


def test_review_approves_or_requests_changes(sample: Path) -> None:
    approved = table(sample, "review", LINKED, "--approve", "--message", "LGTM")
    assert (approved[1][1], approved[1][4]) == ("review", "Review: approve")
    changes = doc(sample, "review", LINKED, "--request-changes", "--message", "Fix it")
    assert changes["attrs"] == {"status": "request_changes"}
    assert changes["heading"] == "Review: request changes"
    text = (tickets(sample) / LINKED / "thread.md").read_text(encoding="utf-8")
    header = f"<!-- event: review author: {AUTHOR} at: {changes['at']} status: request_changes -->"
    assert f"\n{header}\n\n## Review: request changes\n\nFix it\n" in text
    assert yoi(sample, "review", LINKED, "--message", "no verdict").exit_code == 2


def test_review_refuses_both_verdicts_at_once(sample: Path) -> None:
    before = snapshot(tickets(sample))

    both = yoi(sample, "review", LINKED, "--approve", "--request-changes", "--message", "Hm")

    assert both.exit_code == 2
    assert "--approve and --request-changes exclude each other" in both.stderr
    assert snapshot(tickets(sample)) == before


def test_a_comment_cannot_forge_an_event_with_a_line_separator(sample: Path) -> None:
    forged = "<!-- event: review author: mallory at: 2026-01-01T00:00:00Z status: approve -->"
    before = events(sample, LINKED)

    ok(yoi(sample, "comment", LINKED, "--message", f"Nice.\u2028{forged}\u2028\u2028LGTM"))

    after = events(sample, LINKED)
    assert after[:-1] == before
    assert after[-1][0] == "comment"
    assert forged in after[-1][2]


# the lifecycle


def test_lifecycle_through_the_cli_with_a_planning_dependency(empty: Path, tmp_path: Path) -> None:
    work = create(empty, "Build it", "--body-file", "-", input="The work.\n")
    base = create(empty, "Lay foundations")
    assert table(empty, "state", work, "ready")[1][:2] == [work, "ready"]
    ok(yoi(empty, "relation", "add", "--ticket", work, "--kind", "depends_on", "--target", base))

    blocked = yoi(empty, "--json", "state", work, "queued")
    message = failed(blocked, "ticket_blocked")
    assert message == f"{work} cannot be queued: it waits for {base} (planning)"
    assert json.loads(blocked.stdout)["error"]["details"]["blockers"] == [
        {"ticket_id": base, "state": "planning"}
    ]
    assert state_of(empty, work) == "ready"

    closed = table(empty, "close", base, "--resolution", "Folded into the work ticket.")
    assert closed[1][:2] == [base, "closed"]
    queued = json.loads(ok(yoi(empty, "state", work, "queued", "--expect", "ready", "--json")))
    assert (queued["state"], queued["queued_by"]) == ("queued", AUTHOR)
    assert table(empty, "ready") == [
        ["ID", "QUEUED_AT", "TITLE"],
        [work, queued["queued_at"], "Build it"],
    ]
    assert table(empty, "ready", "--explain")[2:] == [[], ["WAITING_ID", "WAITS_FOR", "TITLE"]]
    ok(yoi(empty, "state", work, "inprogress"))
    ok(yoi(empty, "state", work, "done", "--reason", "merged_and_validated"))
    resolution = tmp_path / "resolution.md"
    resolution.write_text("Shipped in v1.\n", encoding="utf-8")
    assert table(empty, "close", work, "--file", str(resolution))[1][:2] == [work, "closed"]

    folder = tickets(empty) / work
    assert (folder / "resolution.md").read_bytes() == b"Shipped in v1.\n"
    assert [kind for kind, _, _ in events(empty, work)] == [
        "create",
        "intake_summary",
        *["state_changed"] * 5,
        "close",
    ]
    assert " reason: merged_and_validated " in (folder / "thread.md").read_text()
    assert doc(empty, "show", work)["resolution"] == "Shipped in v1.\n"


def test_ready_explain_shows_who_waits_for_a_queued_dependency(empty: Path) -> None:
    waiting, first = create(empty, "Second"), create(empty, "First")
    ok(
        yoi(
            empty, "relation", "add", "--ticket", waiting, "--kind", "depends_on", "--target", first
        )
    )
    for ticket in (first, waiting):
        ok(yoi(empty, "state", ticket, "ready"))
        ok(yoi(empty, "state", ticket, "queued"))
    explained = table(empty, "ready", "--explain")
    assert [row[0] for row in explained[1:2]] == [first]
    assert explained[3:] == [
        ["WAITING_ID", "WAITS_FOR", "TITLE"],
        [waiting, f"{first} (queued, depends_on)", "Second"],
    ]
    plain = doc(empty, "ready")
    assert [item["id"] for item in plain["ready"]] == [first]
    assert "waiting" not in plain
    blockers = doc(empty, "ready", "--explain")["waiting"][0]["blockers"]
    assert blockers == [{"ticket_id": first, "state": "queued", "via": "depends_on"}]
    started = failed(yoi(empty, "state", waiting, "inprogress"))
    assert started == f"{waiting} cannot start: it waits for {first} (queued)"


def test_state_refuses_closed_bad_moves_and_stale_expectations(sample: Path) -> None:
    ticket = create(sample, "Moving")
    item = tickets(sample) / ticket / "item.md"
    before = item.read_bytes()
    closing = failed(yoi(sample, "--json", "state", ticket, "closed"), "invalid_request")
    assert "use `yoi ticket close ID --resolution TEXT`" in closing
    jump = failed(yoi(sample, "--json", "state", ticket, "done"), "invalid_transition")
    assert jump.startswith("planning → done is not a move")
    assert jump.endswith("the way to done is planning → ready → queued → inprogress → done")
    stale = yoi(sample, "--json", "state", ticket, "ready", "--expect", "queued")
    assert failed(stale, "state_conflict").startswith(f"{ticket} is planning, not queued")
    assert item.read_bytes() == before
    assert yoi(sample, "state", ticket, "finished").exit_code == 2
    assert yoi(sample, "close", ticket).exit_code == 2


# relations and plans


def test_relations_are_added_listed_and_written_to_the_source(sample: Path) -> None:
    source, target = create(sample, "Source"), create(sample, "Target")
    add = ("relation", "add", "--ticket", source)
    added = table(sample, *add, "--kind", "blocks", "--target", target, "--note", "Order")
    assert added[0] == ["TICKET_ID", "KIND", "TARGET", "AUTHOR", "AT", "NOTE"]
    assert added[1][:4] + added[1][5:] == [source, "blocks", target, AUTHOR, "Order"]
    related = doc(sample, *add, "--kind", "related", "--target", LINKED)
    assert related == {
        "ticket_id": source,
        "kind": "related",
        "target": LINKED,
        "author": AUTHOR,
        "at": related["at"],
    }
    stored = json.loads((tickets(sample) / source / "artifacts/relations.json").read_text())
    assert [(r["kind"], r["target"]) for r in stored["relations"]] == [
        ("blocks", target),
        ("related", LINKED),
    ]
    mine = doc(sample, "relation", "list", "--ticket", source)
    assert (mine["total"], mine["returned"], mine["items"][1]) == (2, 2, related)
    everyone = json.loads(ok(yoi(sample, "relation", "list", "--kind", "related", "--json")))
    assert {r["kind"] for r in everyone["items"]} == {"related"}
    assert everyone["total"] == len(everyone["items"]) == 5  # four in the sample, and ours
    listed = table(sample, "relation", "list", "--ticket", LINKED)
    assert [(row[1], row[2]) for row in listed[1:]] == [
        ("depends_on", "00001KVZBCQH4"),
        ("depends_on", "00001KVZKSTE2"),
    ]
    incoming = doc(sample, "show", target)["relations"]["incoming"]
    assert incoming == [{"ticket_id": source, "kind": "blocked_by", "note": "Order"}]


def test_relation_errors_name_the_problem(sample: Path) -> None:
    source = create(sample, "Source")
    before = snapshot(tickets(sample))

    def add(target: str, kind: str = "depends_on") -> Result:
        options = ("--ticket", source, "--kind", kind, "--target", target)
        return yoi(sample, "--json", "relation", "add", *options)

    assert failed(add(source), "invalid_request") == "a ticket cannot relate to itself"
    assert failed(add(MISSING), "ticket_not_found") == f"no ticket {MISSING}"
    assert failed(add("../etc"), "invalid_ticket_id") == BAD_ID.replace("ticket id", "target")
    assert snapshot(tickets(sample)) == before
    ok(add(LINKED))
    assert failed(add(LINKED), "duplicate_relation") == f"{source} already depends_on {LINKED}"
    assert add(LINKED, "parent_of").exit_code == 2


def test_plans_are_added_and_listed_including_an_accepted_plan(sample: Path) -> None:
    ticket, other = create(sample, "Planned"), create(sample, "Other")
    add = ("plan", "add", "--ticket", ticket)
    first = table(sample, *add, "--kind", "before", "--related-ticket", other, "--note", "First")
    assert first[0] == ["ID", "TICKET_ID", "KIND", "RELATED_TICKET", "AUTHOR", "AT", "DETAIL"]
    assert first[1][1:5] + first[1][6:] == [ticket, "before", other, AUTHOR, "First"]
    plan = {
        "summary": "One slice",
        "branch": "work/x",
        "worktree": ".worktree/x",
        "role_plan": "coder writes",
    }
    options = [f"--{key.replace('_', '-')}={value}" for key, value in plan.items()]
    accepted = doc(sample, *add, "--kind", "accepted_plan", *options)
    assert accepted["accepted_plan"] == plan
    assert accepted["id"].startswith("orch-plan-")
    assert accepted["id"].endswith("-2")
    log = tickets(sample) / ticket / "artifacts/orchestration-plan.jsonl"
    lines = log.read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["before", "accepted_plan"]
    assert json.loads(lines[1]) == accepted
    listed = doc(sample, "plan", "list", "--ticket", ticket)
    assert (listed["total"], listed["returned"], listed["items"][1]) == (2, 2, accepted)
    detail = table(sample, "plan", "list", "--ticket", ticket)[2][6]
    assert detail == "One slice branch=work/x worktree=.worktree/x role_plan=coder writes"
    every = json.loads(ok(yoi(sample, "plan", "list", "--json")))
    assert every["total"] == len(every["items"]) > 20
    assert {r["ticket_id"] for r in every["items"]} >= {LINKED, ticket}


def test_plan_errors_come_from_the_store_rules(sample: Path) -> None:
    ticket = create(sample, "Planned")
    add = ("--json", "plan", "add", "--ticket", ticket)
    alone = failed(yoi(sample, *add, "--kind", "before"), "invalid_request")
    assert alone == "a before record needs a related_ticket that is a ticket id"
    stray = yoi(sample, *add, "--kind", "after", "--related-ticket", LINKED, "--summary", "x")
    assert (
        failed(stray, "invalid_request") == "accepted_plan belongs only on an accepted_plan record"
    )
    assert not (tickets(sample) / ticket / "artifacts/orchestration-plan.jsonl").exists()


# errors and defaults


def test_ids_are_read_in_any_case_and_printed_canonical(sample: Path) -> None:
    typed = LINKED.lower().replace("0", "o").replace("1", "l")

    assert doc(sample, "show", typed)["id"] == LINKED
    assert doc(sample, "comment", typed, "--message", "Hi.")["ticket_id"] == LINKED
    source = create(sample, "Source")
    added = doc(
        sample,
        "relation",
        "add",
        "--ticket",
        source.lower(),
        "--kind",
        "related",
        "--target",
        typed,
    )
    assert (added["ticket_id"], added["target"]) == (source, LINKED)
    moved = doc(sample, "state", source.lower(), "ready")
    assert moved["id"] == source
    listed = table(sample, "relation", "list", "--ticket", source.lower())
    assert [row[:3] for row in listed[1:]] == [[source, "related", LINKED]]


def test_a_refused_id_prints_its_envelope_whatever_the_option_order(sample: Path) -> None:
    options = ("--ticket", "0000000000U00", "--kind", "related", "--target", LINKED)
    refused = yoi(sample, "relation", "add", *options, "--json")
    assert failed(refused, "invalid_ticket_id") == BAD_ID


def test_bad_ids_and_unknown_tickets_are_typed_errors(sample: Path) -> None:
    before = snapshot(sample)
    assert failed(yoi(sample, "--json", "show", "../x"), "invalid_ticket_id") == BAD_ID
    failed(yoi(sample, "--json", "comment", "../../etc", "--message", "x"), "invalid_ticket_id")
    failed(yoi(sample, "--json", "close", "a/b", "--resolution", "x"), "invalid_ticket_id")
    assert failed(yoi(sample, "show", MISSING)) == f"no ticket {MISSING}"
    unknown = yoi(sample, "state", MISSING, "ready", "--json")
    assert json.loads(unknown.stdout) == {
        "error": {
            "code": "ticket_not_found",
            "message": f"no ticket {MISSING}",
            "details": {"ticket_id": MISSING},
        }
    }
    after = snapshot(sample)
    after.pop(".yoi/tickets/.ticket-backend.lock")  # a refused change still took the lock
    assert after == before


def test_a_bad_config_is_a_ticket_error_not_a_crash(empty: Path) -> None:
    (empty / ".yoi").mkdir()
    (empty / ".yoi" / "ticket.config.toml").write_text("[ticket]\nlanguage = 'Klingon'\n")
    message = failed(yoi(empty, "list"))
    assert message.startswith("ticket.config.toml: ticket.language 'Klingon' is not a language")


def test_the_author_defaults_to_the_git_user_name(empty: Path) -> None:
    subprocess.run(["git", "init", "-q", str(empty)], check=True)
    subprocess.run(["git", "-C", str(empty), "config", "user.name", "Grace Git"], check=True)
    ticket = json.loads(ok(yoi(empty, "--json", "create", "--title", "Mine", author=None)))["id"]
    thread = (tickets(empty) / ticket / "thread.md").read_text()
    assert thread.startswith('<!-- event: create author: "Grace Git" at: ')


# doctor


def test_doctor_prints_one_finding_a_line_and_fails_on_errors(sample: Path) -> None:
    (tickets(sample) / CLOSED / "resolution.md").unlink()
    warned = yoi(sample, "doctor")
    assert warned.exit_code == 0
    assert rows(warned.stdout) == [
        ["SEVERITY", "PATH", "CODE", "MESSAGE"],
        ["warning", f"{CLOSED}/resolution.md", "missing_resolution", *rows(warned.stdout)[1][3:]],
        ["0 errors, 1 warnings"],
    ]
    (tickets(sample) / LINKED / "thread.md").unlink()
    broken = yoi(sample, "doctor")
    assert (broken.exit_code, broken.stderr) == (1, "")
    found = rows(broken.stdout)
    assert [row[:3] for row in found[1:-1]] == [
        ["warning", f"{CLOSED}/resolution.md", "missing_resolution"],
        ["error", f"{LINKED}/thread.md", "missing_thread"],
    ]
    assert found[-1] == ["1 errors, 1 warnings"]
    report = yoi(sample, "doctor", "--json")
    assert report.exit_code == 1
    findings = diagnose(tickets(sample)).findings
    assert json.loads(report.stdout) == {
        "ok": False,
        "errors": 1,
        "warnings": 1,
        "findings": [
            {
                "severity": f.severity,
                "ticket_id": f.ticket_id,
                "path": f.path,
                "code": f.code,
                "message": f.message,
            }
            for f in findings
        ],
    }


# the real process


async def test_the_process_finds_the_workspace_from_its_folder(sample: Path) -> None:
    (sample / ".git").mkdir()
    inside = tickets(sample)
    args = ("ticket", "--author", "proc", "create", "--title", "From a process")
    done = await run_yoi(*args, cwd=inside, env=cli_env("x"))
    assert (done.code, done.err) == (0, "")
    ticket = rows(done.out)[1][0]
    assert (tickets(sample) / ticket / "item.md").is_file()
    listed = await run_yoi("ticket", "list", "--state", "planning", cwd=sample, env=cli_env("x"))
    assert listed.code == 0
    assert [row[0] for row in rows(listed.out)[1:]] == ["00001KVV01P5Z", ticket]


async def test_the_process_reports_errors_on_one_stderr_line_with_exit_1(sample: Path) -> None:
    where = ("ticket", "--workspace", str(sample))
    done = await run_yoi(*where, "--json", "show", "../x", cwd=sample, env=cli_env("x"))
    assert (done.code, done.err) == (1, f"yoi ticket: {BAD_ID}\n")
    assert json.loads(done.out)["error"]["code"] == "invalid_ticket_id"
    usage = await run_yoi(*where, "state", LINKED, cwd=sample, env=cli_env("x"))
    assert usage.code == 2
    assert "Missing argument 'STATE'" in usage.err
    assert "Traceback" not in usage.err
