"""Work branch and folder names: any title gives a bounded ASCII slug git takes as a ref."""

from __future__ import annotations

import itertools
import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidTicketId
from yoi.orchestrator.integration_names import (
    SLUG_LIMIT,
    candidate_names,
    merge_message,
    slug,
    work_branch,
)

TICKET = "01KAAAAAAAAAA"
SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Add the Frobnicator!", "add-the-frobnicator"),
        ("  Café — déjà vu  ", "cafe-deja-vu"),
        ("../../etc/passwd", "etc-passwd"),
        ("refs/heads/x.lock", "refs-heads-x-lock"),
        ("日本語", "ticket"),
        ("", "ticket"),
        ("word " * 20, "word-word-word-word-word-word-word-word"),
        ("x" * 60, "x" * SLUG_LIMIT),
    ],
)
def test_known_titles(title: str, expected: str) -> None:
    assert slug(title) == expected


@given(st.text())
def test_any_title_gives_a_bounded_ascii_slug_that_is_its_own_slug(title: str) -> None:
    made = slug(title)
    assert SLUG.fullmatch(made)
    assert len(made) <= SLUG_LIMIT
    assert slug(made) == made
    assert slug(title) == made  # the same title always gives the same name


@given(st.text(max_size=80), st.integers(min_value=1, max_value=30))
def test_a_cut_slug_is_a_prefix_of_the_whole_one(title: str, limit: int) -> None:
    whole, cut = slug(title, limit=10_000), slug(title, limit=limit)
    assert len(cut) <= limit
    assert whole.startswith(cut) or "ticket".startswith(cut)


def test_candidate_names_count_up_from_the_plain_one() -> None:
    names = list(itertools.islice(candidate_names(TICKET.lower(), "Fix it"), 3))
    assert names == [f"{TICKET}-fix-it", f"{TICKET}-fix-it-2", f"{TICKET}-fix-it-3"]
    assert work_branch(names[1]) == f"work/{TICKET}-fix-it-2"


@given(st.text(max_size=60))
def test_a_work_branch_is_a_name_git_accepts_as_is(title: str) -> None:
    branch = work_branch(next(candidate_names(TICKET, title)))
    checked = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, text=True
    )
    assert checked.returncode == 0
    assert checked.stdout.strip() == branch


def test_a_bad_ticket_id_is_refused() -> None:
    with pytest.raises(InvalidTicketId):
        next(candidate_names("../x", "Title"))
    with pytest.raises(InvalidTicketId):
        merge_message("nope", "Title")


def test_the_merge_message_is_one_line() -> None:
    assert merge_message(TICKET, "Fix\nthe   thing\n") == f"merge: {TICKET} Fix the thing"
