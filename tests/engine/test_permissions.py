import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.engine.permissions import Action, PermissionRule, Rules, subject_of
from yoi.errors import InvalidRequest

TOOLS = st.text(alphabet="abcdefgxyz_.*?-019", min_size=1, max_size=12)
PATTERNS = st.none() | st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
RULES = st.builds(PermissionRule, TOOLS, PATTERNS, st.sampled_from(Action))


@given(rule=RULES)
def test_any_rule_prints_to_a_line_that_reads_back_the_same(rule: PermissionRule) -> None:
    text = str(rule)
    assert text.splitlines() == [text]
    assert text.isprintable()
    assert PermissionRule.parse(text) == rule


@given(rules=st.lists(RULES, max_size=6))
def test_a_rule_set_keeps_its_order_and_no_rule_changes_its_neighbours(
    rules: list[PermissionRule],
) -> None:
    lines = Rules(tuple(rules)).lines()
    text = "".join(f"{line}\n" for line in lines)
    assert Rules.parse(text.splitlines()) == Rules(tuple(rules))


@given(text=st.text(max_size=60))
def test_any_text_is_a_rule_or_refused_with_invalid_request(text: str) -> None:
    try:
        rule = PermissionRule.parse(text)
    except InvalidRequest as error:
        refusal = error.message
    else:
        assert PermissionRule.parse(str(rule)) == rule
        return
    assert refusal.startswith("bad permission rule")


@given(
    tool=TOOLS,
    pattern=PATTERNS,
    action=st.sampled_from(Action),
    left=st.sampled_from(["", " ", "  "]),
    right=st.sampled_from(["", " ", "\t"]),
)
def test_spacing_around_the_colon_and_arrow_means_nothing(
    tool: str, pattern: str | None, action: Action, left: str, right: str
) -> None:
    quoted = "" if pattern is None else f"{left}:{right}{json.dumps(pattern)}"
    text = f"{left}{tool}{quoted}{left}->{right}{action}{right}"
    assert PermissionRule.parse(text) == PermissionRule(tool, pattern, action)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bash",
        "bash -> maybe",
        "bash -> DENY",
        "bash: git push* -> deny",
        'bash: "git push* -> deny',
        'bash: "a" "b" -> deny',
        'bash: "\\ud800" -> deny',
        "ba sh -> deny",
        "bash/x -> deny",
        "x" * 65 + " -> deny",
        'bash: "' + "x" * 2_000 + '" -> deny',
        "bash -> deny extra",
    ],
)
def test_malformed_rules_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        PermissionRule.parse(text)
    assert raised.value.details["field"] == "permissions"


def test_a_refused_rule_in_a_set_is_named_by_its_place() -> None:
    with pytest.raises(InvalidRequest) as raised:
        Rules.parse(["bash -> deny", "bash -> nope"])
    assert raised.value.message.startswith("rule 2: ")
    assert raised.value.details["index"] == 1


def test_the_first_matching_rule_decides_and_none_allows() -> None:
    rules = Rules.parse(
        [
            'bash: "git push --dry-run*" -> allow',
            'bash: "git push*" -> deny',
            'bash: "npm publish*" -> ask',
            "bash -> allow",
            "*_file -> ask",
        ]
    )
    assert rules.decide("bash", {"command": "git push --dry-run origin"}) is Action.ALLOW
    assert rules.decide("bash", {"command": "git push origin main"}) is Action.DENY
    assert rules.decide("bash", {"command": "npm publish"}) is Action.ASK
    assert rules.decide("bash", {"command": "ls"}) is Action.ALLOW
    assert rules.decide("write_file", {"path": "a", "content": ""}) is Action.ASK
    assert rules.decide("grep", {"pattern": "x"}) is Action.ALLOW
    assert Rules().decide("bash", {"command": "rm -rf /"}) is Action.ALLOW


def test_a_pattern_matches_the_whole_subject_case_sensitively() -> None:
    rule = PermissionRule.parse('bash: "git push*" -> deny')
    assert rule.matches("bash", {"command": "git push\nmore"})
    assert not rule.matches("bash", {"command": "cd x && git push"})
    assert not rule.matches("bash", {"command": "GIT PUSH"})
    assert PermissionRule.parse('bash: "*git push*" -> deny').matches(
        "bash", {"command": "cd x && git push"}
    )


def test_the_subject_is_the_tools_main_argument_else_the_compact_json() -> None:
    assert subject_of("bash", {"command": "ls -l"}) == "ls -l"
    assert subject_of("edit_file", {"path": "src/a.py", "old_string": "x"}) == "src/a.py"
    assert subject_of("git_commit", {"message": "fix"}) == "fix"
    assert subject_of("bash", {"command": 3}) == '{"command":3}'
    assert subject_of("other", {"b": "é", "a": [1]}) == '{"a":[1],"b":"é"}'


def test_a_printed_pattern_escapes_quotes_and_every_unprintable_character() -> None:
    rule = PermissionRule("bash", 'say "hi"\u2028\x85é\U0001f600\U000e0001', Action.ASK)
    assert str(rule) == 'bash: "say \\"hi\\"\\u2028\\u0085é\U0001f600\\udb40\\udc01" -> ask'


def test_an_invalid_rule_cannot_be_built() -> None:
    with pytest.raises(InvalidRequest):
        PermissionRule("bash", "\ud800", Action.DENY)
    with pytest.raises(InvalidRequest):
        PermissionRule("", None, Action.DENY)
    with pytest.raises(InvalidRequest):
        PermissionRule("bash", None, "deny")  # type: ignore[arg-type]
