"""The doctor: one broken ticket per check, the real sample clean, hostile trees as findings."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest
from tests.tickets.rig import SAMPLE

from yoi.tickets import PlanKind, RelationKind, ReviewStatus, State, TicketStore
from yoi.tickets.doctor import OBSOLETE_FIELDS, Finding, Report, diagnose
from yoi.tickets.index import ITEM_LIMIT

SAMPLE_TICKET = "00001KVZKSTE2"
OTHER = "00001KVZKST83"

Key = tuple[str, str, str]  # severity, code, path


def keys(report: Report) -> set[Key]:
    return {(f.severity, f.code, f.path) for f in report.findings}


def only(report: Report) -> Finding:
    assert len(report.findings) == 1, report.findings
    return report.findings[0]


@pytest.fixture
def store(tmp_path: Path) -> TicketStore:
    return TicketStore(tmp_path / ".yoi" / "tickets")


@pytest.fixture
def tid(store: TicketStore) -> str:
    return store.create("A ticket", "Body.\n", author="alice").id


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A writable copy of the real sample store."""
    target = tmp_path / "sample" / ".yoi"
    shutil.copytree(SAMPLE, target)
    for folder, dirs, files in os.walk(target):
        for name in [*dirs, *files]:
            os.chmod(os.path.join(folder, name), 0o755 if name in dirs else 0o644)
    os.chmod(target, 0o755)
    return target / "tickets"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append_event(store: TicketStore, ticket: str, header: str, body: str = "Text.") -> None:
    with open(store.root / ticket / "thread.md", "a", encoding="utf-8") as file:
        file.write(f"\n{header}\n\n{body}\n\n---\n")


def write_relations(store: TicketStore, owner: str, entries: list[dict[str, str]]) -> Path:
    path = store.root / owner / "artifacts" / "relations.json"
    path.write_text(json.dumps({"version": 1, "relations": entries}, indent=2) + "\n")
    return path


def relation(owner: str, kind: str, target: str) -> dict[str, str]:
    return {"ticket_id": owner, "kind": kind, "target": target}


# the clean cases and the report


def test_the_real_sample_has_no_findings(sample: Path) -> None:
    report = diagnose(sample)
    assert report.findings == ()
    assert report.ok


def test_a_fresh_store_is_clean_through_every_kind_of_change(store: TicketStore) -> None:
    first = store.create("First", "Body.\n", author="alice").id
    second = store.create("Second", "Body.\n", author="alice").id
    store.add_relation(second, RelationKind.DEPENDS_ON, first, author="alice")
    store.review(first, ReviewStatus.APPROVE, "Fine.", author="bob")
    store.move(first, State.CLOSED, author="alice", resolution="Done.")
    store.add_plan(second, PlanKind.AFTER, author="orch", related_ticket=first)
    assert diagnose(store.root).findings == ()


def test_a_missing_store_has_no_findings_and_a_file_in_its_place_is_an_error(
    tmp_path: Path,
) -> None:
    assert diagnose(tmp_path / "absent").findings == ()
    (tmp_path / "file").write_text("not a folder")
    finding = only(diagnose(tmp_path / "file"))
    assert (finding.severity, finding.code, finding.path) == ("error", "unreadable_store", ".")


def test_report_splits_errors_from_warnings() -> None:
    error = Finding("error", None, "x", "invalid_folder_name", "m")
    warning = Finding(
        "warning", "00001KVZKSTE2", "00001KVZKSTE2/thread.md", "bad_review_status", "m"
    )
    assert Report((error, warning)).errors == (error,)
    assert Report((error, warning)).warnings == (warning,)
    assert not Report((error, warning)).ok
    assert Report((warning,)).ok


# the store folder


def test_a_folder_named_like_no_ticket_is_an_error_and_dot_folders_and_files_are_not(
    store: TicketStore, tid: str
) -> None:
    (store.root / "notes").mkdir()
    (store.root / ".cache").mkdir()
    (store.root / "README.md").write_text("hello")
    finding = only(diagnose(store.root))
    assert (finding.severity, finding.code, finding.path) == (
        "error",
        "invalid_folder_name",
        "notes",
    )
    assert finding.ticket_id is None


def test_a_symlinked_ticket_folder_is_reported_and_never_followed(
    store: TicketStore, tid: str, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(store.root / tid, outside)
    (outside / "item.md").write_bytes(b"\xff broken, and would be reported if it were read")
    os.rename(store.root / tid, tmp_path / "moved")
    (store.root / tid).symlink_to(outside)
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path, finding.ticket_id) == ("ticket_symlink", tid, tid)


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_an_entry_named_like_a_ticket_that_is_no_folder_is_an_error(
    store: TicketStore, tid: str, kind: str
) -> None:
    other = "00001KVZKSTE2"
    if kind == "fifo":
        os.mkfifo(store.root / other)
    else:
        (store.root / other).write_text("---\n")
    assert keys(diagnose(store.root)) == {("error", "ticket_not_folder", other)}


# the ticket's files


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("item.md", "missing_item"),
        ("thread.md", "missing_thread"),
        ("artifacts", "missing_artifacts"),
    ],
)
def test_a_missing_file_is_an_error(store: TicketStore, tid: str, name: str, code: str) -> None:
    target = store.root / tid / name
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    assert keys(diagnose(store.root)) == {("error", code, f"{tid}/{name}")}


@pytest.mark.parametrize("kind", ["link", "file"])
def test_artifacts_that_is_no_real_folder_is_an_error_and_not_read_through(
    store: TicketStore, tid: str, tmp_path: Path, kind: str
) -> None:
    artifacts = store.root / tid / "artifacts"
    shutil.rmtree(artifacts)
    if kind == "link":
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        (outside / "relations.json").write_text("not json")
        artifacts.symlink_to(outside)
    else:
        artifacts.write_text("")
    assert keys(diagnose(store.root)) == {("error", "missing_artifacts", f"{tid}/artifacts")}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"title: no front matter\n", "does not start"),
        (b"---\ntitle: 'x'\n", "no closing"),
        (b"---\ntitle: [unclosed\n---\n", "not readable YAML"),
        (b"---\n\xff\xfe\n---\n", "not UTF-8"),
        (b"---\n- a list\n---\n", "not a mapping"),
        (b"---\nx: !!python/object/apply:os.system ['touch /tmp/pwned']\n---\n", "YAML"),
        (b"---\ntitle: 'x'\nstate: 'planning'\ncreated_at: 2026-13-01\n---\n", "cannot read"),
        (b"---\ntitle: !!timestamp nope\n---\n", "cannot read"),
        (
            b"---\ntitle: 'x'\nstate: 'planning'\ncreated_at: 'a'\nupdated_at: 'b'\n"
            b"risk_flags: 'one'\n---\n",
            "risk_flags",
        ),
    ],
)
def test_unreadable_front_matter_is_an_error(
    store: TicketStore, tid: str, content: bytes, expected: str
) -> None:
    (store.root / tid / "item.md").write_bytes(content)
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("unreadable_front_matter", f"{tid}/item.md")
    assert expected in finding.message


def test_an_item_too_large_to_read_is_an_error_without_reading_it(
    store: TicketStore, tid: str
) -> None:
    with open(store.root / tid / "item.md", "r+b") as file:
        file.truncate(ITEM_LIMIT * 1000)  # sparse: costs no disk, and no memory unless read
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("unreadable_front_matter", f"{tid}/item.md")
    assert "limit" in finding.message


@pytest.mark.parametrize("field", ["title", "state", "created_at", "updated_at"])
def test_a_missing_required_field_is_an_error(store: TicketStore, tid: str, field: str) -> None:
    item = store.root / tid / "item.md"
    lines = item.read_text().splitlines(keepends=True)
    item.write_text("".join(line for line in lines if not line.startswith(f"{field}:")))
    finding = only(diagnose(store.root))
    assert (finding.severity, finding.code, finding.path) == (
        "error",
        "missing_field",
        f"{tid}/item.md",
    )
    assert finding.message == f"item.md has no {field}"


@pytest.mark.parametrize("field", OBSOLETE_FIELDS)
def test_an_obsolete_field_is_an_error(store: TicketStore, tid: str, field: str) -> None:
    edit(store.root / tid / "item.md", "assignee:", f"{field}: 'planning'\nassignee:")
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("obsolete_field", f"{tid}/item.md")
    assert field in finding.message


def test_a_legacy_state_field_alone_is_missing_state_and_obsolete(
    store: TicketStore, tid: str
) -> None:
    edit(store.root / tid / "item.md", "state: 'planning'", "workflow_state: 'ready'")
    assert [f.code for f in diagnose(store.root).findings] == ["missing_field", "obsolete_field"]


@pytest.mark.parametrize("value", ["'started'", "['planning']", "7"])
def test_a_bad_state_is_an_error(store: TicketStore, tid: str, value: str) -> None:
    edit(store.root / tid / "item.md", "state: 'planning'", f"state: {value}")
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("bad_state", f"{tid}/item.md")


def test_the_legacy_intake_state_is_read_as_planning_and_is_fine(
    store: TicketStore, tid: str
) -> None:
    edit(store.root / tid / "item.md", "state: 'planning'", "state: 'intake'")
    assert diagnose(store.root).findings == ()


# thread.md


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<!-- event: comment author: bob at: 2026-01-01T00:00:00Z", "not closed"),
        ("<!-- event: comment author: bob -->", "no 'at'"),
        ('<!-- event: comment author: "bob at: 2026-01-01T00:00:00Z -->', "quoted"),
    ],
)
def test_an_unreadable_event_header_is_an_error_naming_its_line(
    store: TicketStore, tid: str, header: str, expected: str
) -> None:
    lines = (store.root / tid / "thread.md").read_text().count("\n")
    append_event(store, tid, header)
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("bad_event", f"{tid}/thread.md")
    assert expected in finding.message
    assert finding.message.startswith(f"line {lines + 2}:")


def test_a_torn_last_event_is_an_error(store: TicketStore, tid: str) -> None:
    with open(store.root / tid / "thread.md", "a") as file:
        file.write("\n<!-- event: comment author: bob at: 2026-01-01T00:00:00Z -->\n\nhalf a")
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("bad_event", f"{tid}/thread.md")
    assert "torn" in finding.message


def test_a_state_change_without_from_to_reason_or_author_is_an_error(
    store: TicketStore, tid: str
) -> None:
    append_event(store, tid, "<!-- event: state_changed at: 2026-01-01T00:00:00Z to: ready -->")
    finding = only(diagnose(store.root))
    assert (finding.severity, finding.code) == ("error", "incomplete_state_change")
    assert finding.path == f"{tid}/thread.md"
    assert finding.message.endswith("has no author, from, reason")


@pytest.mark.parametrize(
    "attrs", ["", " status: approved", " result: approve reviewer: bob", ' status: ""']
)
def test_a_review_without_a_valid_status_is_a_warning(
    store: TicketStore, tid: str, attrs: str
) -> None:
    append_event(store, tid, f"<!-- event: review author: bob at: 2026-01-01T00:00:00Z{attrs} -->")
    report = diagnose(store.root)
    assert keys(report) == {("warning", "bad_review_status", f"{tid}/thread.md")}
    assert report.ok


# relations.json


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "not JSON"),
        ('{"version": 1}', "no 'relations' list"),
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        ('{"relations": [' + "9" * 5000 + "]}", "number too long"),
    ],
)
def test_an_unreadable_relations_file_is_an_error(
    store: TicketStore, tid: str, document: str, expected: str
) -> None:
    (store.root / tid / "artifacts" / "relations.json").write_text(document)
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("invalid_relation", f"{tid}/artifacts/relations.json")
    assert expected in finding.message


def test_invalid_duplicate_and_self_relations_are_each_an_error(store: TicketStore) -> None:
    first = store.create("First", "", author="alice").id
    owner = store.create("Second", "", author="alice").id
    write_relations(
        store,
        owner,
        [
            relation(owner, "related", first),
            relation(owner, "related", first),
            relation(owner, "related", owner),
            relation(owner, "fixes", first),
            relation(first, "related", first),
            {"ticket_id": owner, "kind": "related", "target": "../../etc"},
        ],
    )
    report = diagnose(store.root)
    assert {f.code for f in report.findings} == {"invalid_relation"}
    messages = " | ".join(f.message for f in report.findings)
    for part in ("listed twice", "to itself", "unknown kind", "not its owner", "not a ticket id"):
        assert part in messages
    assert len(report.findings) == 5


def test_a_relation_to_a_missing_ticket_is_dangling(store: TicketStore, tid: str) -> None:
    write_relations(store, tid, [relation(tid, "depends_on", "00001KVZKSTE2")])
    finding = only(diagnose(store.root))
    assert (finding.code, finding.path) == ("dangling_relation", f"{tid}/artifacts/relations.json")
    assert "00001KVZKSTE2" in finding.message


def test_a_cycle_of_three_tickets_is_reported_once(store: TicketStore) -> None:
    a, b, c = (store.create(name, "", author="alice").id for name in "ABC")
    store.add_relation(b, RelationKind.DEPENDS_ON, c, author="alice")
    store.add_relation(c, RelationKind.RELATED, a, author="alice")
    # The store refuses the edge that closes a cycle; a hand edit or a merge can still make one.
    write_relations(store, a, [relation(a, "depends_on", b), relation(a, "blocks", c)])
    finding = only(diagnose(store.root))
    assert (finding.severity, finding.code) == ("error", "relation_cycle")
    assert (finding.ticket_id, finding.path) == (a, f"{a}/artifacts/relations.json")
    assert f"{a} → {b} → {c} → {a}" in finding.message


# orchestration-plan.jsonl


def test_invalid_plan_lines_are_errors_naming_their_line(store: TicketStore, tid: str) -> None:
    good = {"id": "orch-plan-20260101-000000-1", "ticket_id": tid, "kind": "accepted_plan"}
    good.update(author="orch", at="2026-01-01T00:00:00Z")
    lines = [
        json.dumps({**good, "accepted_plan": {"summary": "Plan."}}),
        "not json",
        json.dumps({**good, "kind": "before"}),
        json.dumps({**good, "kind": "before", "related_ticket": tid, "note": 5}),
        "[" * 50_000,
        json.dumps({**good, "kind": "waiting_capacity_note"}),
    ]
    path = store.root / tid / "artifacts" / "orchestration-plan.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = diagnose(store.root)
    assert keys(report) == {("error", "invalid_plan", f"{tid}/artifacts/orchestration-plan.jsonl")}
    numbers = [f.message.split(":")[0] for f in report.findings]
    assert numbers == ["line 2", "line 3", "line 4", "line 5", "line 6"]
    assert "nests too deeply" in report.findings[3].message


# artifacts/


def test_artifact_names_with_dots_and_links_outside_are_errors(
    store: TicketStore, tid: str, tmp_path: Path
) -> None:
    artifacts = store.root / tid / "artifacts"
    (artifacts / "notes..md").write_text("x")
    (artifacts / "up").symlink_to("../item.md")
    (artifacts / "abs").symlink_to(tmp_path)
    (artifacts / "inside").symlink_to(".gitkeep")
    deep = artifacts / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "sideways").symlink_to("../../.gitkeep")
    (deep / "out").symlink_to("../../../thread.md")
    report = diagnose(store.root)
    prefix = f"{tid}/artifacts/"
    assert keys(report) == {
        ("error", "artifact_path_escape", prefix + name)
        for name in ("notes..md", "up", "abs", "a/b/out")
    }


# resolution.md


def test_a_closed_ticket_without_resolution_is_a_warning(store: TicketStore, tid: str) -> None:
    store.move(tid, State.CLOSED, author="alice", resolution="Done.")
    assert diagnose(store.root).findings == ()
    (store.root / tid / "resolution.md").unlink()
    report = diagnose(store.root)
    assert keys(report) == {("warning", "missing_resolution", f"{tid}/resolution.md")}
    assert report.ok


@pytest.mark.parametrize(
    "name",
    [
        "thread.md",
        "artifacts/relations.json",
        "artifacts/orchestration-plan.jsonl",
        "resolution.md",
    ],
)
@pytest.mark.parametrize("kind", ["binary", "link", "fifo", "folder"])
def test_an_unreadable_file_is_an_error(
    store: TicketStore, tid: str, tmp_path: Path, name: str, kind: str
) -> None:
    path = store.root / tid / name
    path.unlink(missing_ok=True)
    if kind == "binary":
        path.write_bytes(bytes(range(256)))
    elif kind == "link":
        (path.parent / "target").write_text("{}")
        path.symlink_to("target")  # a sibling: nothing escapes, but a link is no ticket file
    elif kind == "fifo":
        os.mkfifo(path)  # opening it to read would block forever
    else:
        path.mkdir()
    assert keys(diagnose(store.root)) == {("error", "unreadable_file", f"{tid}/{name}")}


# everything at once, hostile trees, and no writes


def break_everything(store: TicketStore, sample: Path) -> set[Key]:
    """Copy two sample tickets into ``store`` and break them and others; the expected keys."""
    for name in (SAMPLE_TICKET, OTHER):
        shutil.copytree(sample / name, store.root / name)
    a, b = (store.create(name, "", author="alice").id for name in "AB")
    (store.root / "bad-name").mkdir()
    edit(store.root / SAMPLE_TICKET / "item.md", "state: 'done'", "state: 'finished'\nslug: 'x'")
    (store.root / OTHER / "thread.md").unlink()
    append_event(store, a, "<!-- event: review author: bob at: 2026-01-01T00:00:00Z -->")
    append_event(store, a, "<!-- event: state_changed author: bob at: 2026-01-01T00:00:00Z -->")
    append_event(store, a, "<!-- event: comment author: bob -->")
    write_relations(
        store, a, [relation(a, "depends_on", b), relation(a, "blocks", "00001KW04A8K6")]
    )
    write_relations(store, b, [relation(b, "depends_on", a), relation(b, "depends_on", a)])
    (store.root / b / "artifacts" / "link").symlink_to("/etc/passwd")
    (store.root / b / "thread.md").write_bytes(b"\xc3\x28")
    return {
        ("error", "invalid_folder_name", "bad-name"),
        ("error", "bad_state", f"{SAMPLE_TICKET}/item.md"),
        ("error", "obsolete_field", f"{SAMPLE_TICKET}/item.md"),
        ("error", "dangling_relation", f"{SAMPLE_TICKET}/artifacts/relations.json"),
        ("error", "missing_thread", f"{OTHER}/thread.md"),
        ("error", "dangling_relation", f"{OTHER}/artifacts/relations.json"),
        ("warning", "bad_review_status", f"{a}/thread.md"),
        ("error", "incomplete_state_change", f"{a}/thread.md"),
        ("error", "bad_event", f"{a}/thread.md"),
        ("error", "dangling_relation", f"{a}/artifacts/relations.json"),
        ("error", "invalid_relation", f"{b}/artifacts/relations.json"),
        ("error", "artifact_path_escape", f"{b}/artifacts/link"),
        ("error", "unreadable_file", f"{b}/thread.md"),
        ("error", "relation_cycle", f"{a}/artifacts/relations.json"),
    }


def test_a_mixed_tree_reports_everything_at_once(store: TicketStore, sample: Path) -> None:
    expected = break_everything(store, sample)
    report = diagnose(store.root)
    assert keys(report) == expected
    assert not report.ok
    assert all(
        not f.path.startswith("/") and not Path(f.path).is_absolute() for f in report.findings
    )


def test_hostile_trees_become_findings(store: TicketStore, tid: str, tmp_path: Path) -> None:
    bomb = "---\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9 if i else ["'x'"] * 9) + "]\n"
        for i in range(9)
    )
    times = "created_at: '2026-01-01T00:00:00Z'\nupdated_at: '2026-01-01T00:00:00Z'\n"
    (store.root / tid / "item.md").write_text(bomb + f"title: *a8\nstate: planning\n{times}---\n")
    os.mkdir(os.fsencode(store.root) + b"/bad\xffname\n")
    with open(store.root / tid / "thread.md", "r+b") as file:
        file.truncate(1 << 40)  # a terabyte, sparse
    (store.root / tid / "artifacts" / "relations.json").write_text("[" * 10_000)
    deep = store.root / tid / "artifacts"
    for _ in range(60):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "escape").symlink_to("../" * 70)
    os.mkfifo(store.root / tid / "resolution.md")
    report = diagnose(store.root)
    found = {(f.code, f.path) for f in report.findings}
    assert ("invalid_folder_name", "bad\\xffname\\n") in found
    assert ("unreadable_file", f"{tid}/thread.md") in found
    assert ("invalid_relation", f"{tid}/artifacts/relations.json") in found
    assert ("artifact_path_escape", f"{tid}/artifacts/{'d/' * 60}escape") in found
    assert ("unreadable_file", f"{tid}/resolution.md") in found
    item = [f for f in report.findings if f.path == f"{tid}/item.md"]
    assert [(f.code, f.message) for f in item] == [
        ("unreadable_front_matter", "item.md's title is not a string")
    ]
    assert all(len(f.message) <= 500 and f.message.isprintable() for f in report.findings)


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under ``root`` (links not followed): mode, mtime and content or link text."""
    seen: dict[str, tuple[int, int, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                content = Path(path).read_bytes()
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path).encode()
            else:
                content = b""
            seen[path] = (info.st_mode, info.st_mtime_ns, content)
    info = os.lstat(root)
    seen[str(root)] = (info.st_mode, info.st_mtime_ns, b"")
    return seen


def test_doctor_writes_nothing(store: TicketStore, sample: Path) -> None:
    break_everything(store, sample)
    os.mkfifo(store.root / "00001KVZKSTE3")
    workspace = store.root.parent.parent
    before = snapshot(workspace)
    assert diagnose(store.root).findings
    assert diagnose(sample).findings == ()
    assert snapshot(workspace) == before


# what the doctor meets must not break the store's reads either


def test_store_listing_survives_a_date_yaml_cannot_construct(store: TicketStore, tid: str) -> None:
    edit(store.root / tid / "item.md", "created_at: '", "created_at: 2026-13-01\nx: '")
    assert tid in store.listing().invalid


def test_store_ready_survives_deeply_nested_relations(store: TicketStore, tid: str) -> None:
    (store.root / tid / "artifacts" / "relations.json").write_text("[" * 100_000)
    assert store.ready().ready == ()


def test_store_listing_does_not_block_on_a_fifo_item(store: TicketStore, tid: str) -> None:
    item = store.root / tid / "item.md"
    item.unlink()
    os.mkfifo(item)
    done = threading.Event()

    def list_tickets() -> None:
        store.listing()
        done.set()

    worker = threading.Thread(target=list_tickets, daemon=True)
    worker.start()
    finished = done.wait(timeout=1.0)
    if not finished:  # release the reader so the thread ends
        os.close(os.open(item, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
    assert finished
