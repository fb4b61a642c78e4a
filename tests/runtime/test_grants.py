"""Grants narrow, never widen: any request gives a subset of its profile and host, or a typed
refusal; a grant's stored form reads back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yoi.errors import InvalidRequest
from yoi.runtime.bundles import ConfigBundle
from yoi.runtime.grants import grant_dict, narrow, read_grant
from yoi.runtime.requests import GrantRequest
from yoi.tools.scope import Capability, Grant

bits = st.frozensets(st.sampled_from(list(Capability)))
names = st.lists(st.sampled_from([bit.value for bit in Capability]) | st.text(max_size=8))
segments = st.sampled_from(["src", "docs", ".", "..", "a b", "x/y", ""])
paths = st.lists(st.lists(segments, max_size=4).map("/".join), max_size=5)


@given(profile=bits, host=bits, asked=st.none() | names, where=paths)
def test_a_grant_is_within_its_profile_and_host_or_refused(
    profile: frozenset[Capability],
    host: frozenset[Capability],
    asked: list[str] | None,
    where: list[str],
) -> None:
    request = GrantRequest(None if asked is None else tuple(asked), tuple(where))
    try:
        grant = narrow(profile, request, host)
    except InvalidRequest:  # a typed refusal is one of the two allowed outcomes
        return
    assert grant.capabilities <= profile & host
    if asked is not None:
        assert grant.capabilities == frozenset(Capability(name) for name in asked) & host
    for path in grant.paths:
        assert not path.startswith("/")
        assert ".." not in path.split("/")


@given(profile=bits, host=bits)
def test_no_request_is_the_profile_within_the_host(
    profile: frozenset[Capability], host: frozenset[Capability]
) -> None:
    assert narrow(profile, None, host) == Grant(profile & host)


@given(capabilities=bits, where=st.lists(st.sampled_from(["src", "docs/api", "."]), unique=True))
def test_a_grant_reads_back_from_its_stored_form(
    capabilities: frozenset[Capability], where: list[str]
) -> None:
    grant = Grant(capabilities, tuple(where))
    assert read_grant(grant_dict(grant)) == grant


def test_a_bundle_profile_carries_its_grant_and_keeps_the_digest_of_one_without() -> None:
    plain = {"revision": "r1", "profiles": {"p": {"prompt": "hi"}}}
    granted = {
        "revision": "r1",
        "profiles": {"p": {"prompt": "hi", "grant": ["read", "grep"], "report": "submit_review"}},
    }
    before = ConfigBundle.from_mapping(plain)
    after = ConfigBundle.from_mapping(granted)
    assert before.digest != after.digest
    assert "grant" not in before.to_dict()["profiles"]["p"]  # type: ignore[index]
    profile = after.profile("p")
    assert profile.grant == {Capability.READ, Capability.GREP}
    assert profile.report == "submit_review"
    assert ConfigBundle.decode(after.encode()).digest == after.digest


@pytest.mark.parametrize(
    "body",
    [{"grant": ["read", "root"]}, {"grant": "read"}, {"workspace": "yes"}, {"report": "x"}],
)
def test_a_bundle_profile_with_a_bad_tool_policy_is_refused(body: dict[str, object]) -> None:
    raw = {"revision": "r1", "profiles": {"p": {"prompt": "hi", **body}}}
    with pytest.raises(InvalidRequest):
        ConfigBundle.from_mapping(raw)
