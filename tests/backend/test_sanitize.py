"""The Scrubber: known secrets never leave the backend, whatever carries them."""

from __future__ import annotations

from yoi.backend.sanitize import REDACTED, Scrubber
from yoi.errors import ProviderRateLimited, RuntimeUnavailable, WorkerNotFound, YoiError

TOKEN = "tok-0123456789"
URL = "http://10.0.0.7:7701"


def test_text_replaces_every_occurrence() -> None:
    scrubber = Scrubber([TOKEN])
    assert scrubber.text(f"sent {TOKEN}, then {TOKEN} again") == (
        f"sent {REDACTED}, then {REDACTED} again"
    )
    assert scrubber.text("nothing to hide") == "nothing to hide"


def test_strings_shorter_than_six_characters_and_nothing_are_ignored() -> None:
    scrubber = Scrubber(["abc", "12345", "", None])
    scrubber.add("tmp", None)
    assert scrubber.text("abc 12345 tmp stays") == "abc 12345 tmp stays"
    scrubber.add("123456")
    assert scrubber.text("abc 123456") == f"abc {REDACTED}"


def test_a_longer_secret_is_scrubbed_before_a_shorter_one_inside_it() -> None:
    scrubber = Scrubber(["/home/alice"])
    scrubber.add("/home/alice/project")
    assert scrubber.text("at /home/alice/project/x") == f"at {REDACTED}/x"
    assert scrubber.text("at /home/alice/other") == f"at {REDACTED}/other"


def test_add_url_also_scrubs_its_host_and_port() -> None:
    scrubber = Scrubber()
    scrubber.add_url(URL)
    assert scrubber.text(f"GET {URL}/v1/runtime failed") == f"GET {REDACTED}/v1/runtime failed"
    assert scrubber.text("connect to 10.0.0.7:7701 refused") == f"connect to {REDACTED} refused"
    slashed = Scrubber()
    slashed.add_url(f"{URL}/")
    assert slashed.text(f"base {URL} or {URL}/") == f"base {REDACTED} or {REDACTED}"
    assert slashed.text("10.0.0.7:7701") == REDACTED


def test_value_scrubs_strings_inside_nested_values() -> None:
    scrubber = Scrubber([TOKEN])
    value = {
        "message": f"token {TOKEN}",
        "items": [TOKEN, 3, None, ("x", f"{TOKEN}!")],
        "nested": {"deep": {"deeper": TOKEN}},
        "count": 2,
        "flag": True,
    }
    assert scrubber.value(value) == {
        "message": f"token {REDACTED}",
        "items": [REDACTED, 3, None, ["x", f"{REDACTED}!"]],
        "nested": {"deep": {"deeper": REDACTED}},
        "count": 2,
        "flag": True,
    }
    assert scrubber.value(TOKEN) == REDACTED
    assert scrubber.value(7) == 7


def test_an_error_keeps_its_class_and_code_with_message_and_details_scrubbed() -> None:
    scrubber = Scrubber([TOKEN])
    error = RuntimeUnavailable(f"no answer with {TOKEN}", details={"seen": [TOKEN], "n": 1})
    clean = scrubber.error(error)
    assert type(clean) is RuntimeUnavailable
    assert clean.code == "runtime_unavailable"
    assert clean.message == f"no answer with {REDACTED}"
    assert str(clean) == clean.message
    assert clean.details == {"seen": [REDACTED], "n": 1}
    assert TOKEN not in repr(clean.to_dict())


def test_a_clean_error_comes_back_as_it_was() -> None:
    error = WorkerNotFound("there is no worker ada", details={"worker_id": "ada"})
    assert Scrubber([TOKEN]).error(error) is error


def test_a_secret_only_in_the_details_is_scrubbed() -> None:
    error = YoiError("plain", details={"url": URL})
    scrubber = Scrubber()
    scrubber.add_url(URL)
    clean = scrubber.error(error)
    assert clean.message == "plain"
    assert clean.details == {"url": REDACTED}


def test_an_error_whose_init_takes_other_arguments_is_scrubbed() -> None:
    error = ProviderRateLimited(f"slow down, {TOKEN}", retry_after=2.0)
    clean = Scrubber([TOKEN]).error(error)
    assert type(clean) is ProviderRateLimited
    assert clean.code == "provider_rate_limited"
    assert clean.transient
    assert clean.message == f"slow down, {REDACTED}"
    assert clean.details == {"retry_after": 2.0, "status": 429}


def test_a_scrubbed_error_keeps_the_attributes_its_class_sets() -> None:
    error = ProviderRateLimited(f"slow down, {TOKEN}", retry_after=2.0)
    clean = Scrubber([TOKEN]).error(error)
    assert isinstance(clean, ProviderRateLimited)
    assert clean.retry_after == 2.0
    assert clean.status == 429
