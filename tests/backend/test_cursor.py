"""Backend cursors: opaque to clients, exact for the backend, refused when not this worker's."""

from __future__ import annotations

import base64

import pytest

from yoi.backend.cursor import BackendCursor, ListingCursor
from yoi.errors import InvalidCursor


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("seq", [0, 1, 7, 10**12])
def test_a_backend_cursor_round_trips(seq: int) -> None:
    cursor = BackendCursor("backend-internal", "w-0123.ada_1", seq)
    encoded = cursor.encode()
    assert BackendCursor.decode(encoded, "backend-internal", "w-0123.ada_1") == cursor
    assert "=" not in encoded
    assert "backend-internal" not in encoded  # opaque, not a readable path
    assert encoded.isascii()


def test_backend_cursors_of_different_events_differ() -> None:
    encoded = {BackendCursor("rt", "ada", seq).encode() for seq in range(50)}
    assert len(encoded) == 50


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not base64 at all",
        "é",
        raw("b1:rt:ada"),
        raw("b1:rt:ada:seven"),
        raw("b1:rt:ada:-1"),
        raw("b1:rt:ada:1:2"),
        raw("b2:rt:ada:1"),
        raw("l1:rt:ada"),
        base64.urlsafe_b64encode(b"\xff\xfe:rt:ada:1").decode(),
    ],
    ids=repr,
)
def test_a_malformed_backend_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        BackendCursor.decode(cursor, "rt", "ada")
    assert raised.value.code == "invalid_cursor"
    assert "malformed" in raised.value.message


@pytest.mark.parametrize(
    ("runtime_id", "worker_id"), [("rt", "bob"), ("other-rt", "ada"), ("other-rt", "bob")]
)
def test_another_workers_cursor_is_invalid(runtime_id: str, worker_id: str) -> None:
    cursor = BackendCursor("rt", "ada", 3).encode()
    with pytest.raises(InvalidCursor) as raised:
        BackendCursor.decode(cursor, runtime_id, worker_id)
    assert "another worker" in raised.value.message


def test_a_listing_cursor_round_trips() -> None:
    for cursor in (ListingCursor("build-box", "w-01"), ListingCursor("backend-internal", "")):
        assert ListingCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        raw("l1:rt"),
        raw("l1::w-01"),
        raw("l2:rt:w-01"),
        raw("l1:rt:w:01"),
        BackendCursor("rt", "ada", 1).encode(),
    ],
    ids=repr,
)
def test_a_malformed_listing_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        ListingCursor.decode(cursor)
    assert raised.value.code == "invalid_cursor"


def test_a_listing_cursor_is_not_a_backend_cursor() -> None:
    with pytest.raises(InvalidCursor):
        BackendCursor.decode(ListingCursor("rt", "ada").encode(), "rt", "ada")
