"""A ticket's validation commands: only whole backticked bullets of its Validation section."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from yoi.orchestrator.ticket_validation import ticket_commands

SAMPLE = Path(__file__).parents[1] / "fixtures" / "upstream-yoi" / ".yoi" / "tickets"


def test_the_sample_tickets_commands_are_the_whole_backticked_bullets() -> None:
    body = (SAMPLE / "00001KV072V89" / "item.md").read_text(encoding="utf-8")
    assert ticket_commands(body) == ("cargo fmt --check", "git diff --check")


def test_prose_and_choices_are_not_commands_and_other_sections_are_not_read() -> None:
    body = (
        "## Plan\n\n- `rm -rf /`\n\n## Validation\n\n- run the tests\n"
        "- `make test` or `make check`\n- `python -m pytest -q`\n\n## Notes\n\n- `ls`\n"
    )
    assert ticket_commands(body) == ("python -m pytest -q",)


commands = st.text(
    alphabet=st.characters(blacklist_characters="`\n\r", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=40,
).filter(lambda text: text.strip() == text and text.strip())


@given(st.lists(commands, max_size=10), st.text(max_size=200))
def test_any_commands_listed_come_back_exactly_and_text_after_cannot_add_one(
    listed: list[str], after: str
) -> None:
    body = "## Validation\n\n" + "".join(f"- `{c}`\n" for c in listed) + "\n## Next\n" + after
    assert ticket_commands(body) == tuple(listed)
