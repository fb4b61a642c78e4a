"""Choosing a store by configuration."""

from pathlib import Path

import pytest

from yoi.errors import InvalidRequest
from yoi.runtime import CreateWorkerRequest, FsStore, MemoryStore, Runtime, StoreSettings


def test_memory_is_the_default(tmp_path: Path) -> None:
    settings = StoreSettings.from_mapping({}, base=tmp_path)
    assert isinstance(settings.build(), MemoryStore)


def test_fs_store_root_is_taken_from_the_config_directory(tmp_path: Path) -> None:
    settings = StoreSettings.from_mapping(
        {"store": "fs", "store_root": "state/runtime", "store_retain_event_bytes": 4096},
        base=tmp_path,
    )
    store = settings.build()
    assert isinstance(store, FsStore)
    assert store.root == tmp_path / "state" / "runtime"
    assert store.limits.retain_event_bytes == 4096


async def test_a_configured_fs_store_keeps_workers_across_runtimes(tmp_path: Path) -> None:
    values = {"store": "fs", "store_root": "kept"}
    async with Runtime(store=StoreSettings.from_mapping(values, base=tmp_path).build()) as first:
        created = await first.create_worker(CreateWorkerRequest(display_name="keeper"))
    async with Runtime(store=StoreSettings.from_mapping(values, base=tmp_path).build()) as second:
        restored = await second.get_worker(created.worker_id)
    assert restored.display_name == "keeper"
    assert restored.runtime_id == created.runtime_id


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"store": "sqlite"}, "store"),
        ({"store": "fs"}, "store_root"),
        ({"store": "fs", "store_root": "  "}, "store_root"),
        ({"store": "fs", "store_root": 3}, "store_root"),
        (
            {"store": "fs", "store_root": "x", "store_retain_event_bytes": 0},
            "store_retain_event_bytes",
        ),
        (
            {"store": "fs", "store_root": "x", "store_retain_event_bytes": True},
            "store_retain_event_bytes",
        ),
    ],
)
def test_bad_settings_name_their_key(values: dict[str, object], field: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as caught:
        StoreSettings.from_mapping(values, base=tmp_path)
    assert caught.value.details["field"] == field


def test_a_store_root_in_the_home_of_no_user_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        StoreSettings.from_mapping(
            {"store": "fs", "store_root": "~no-such-user-here/rt"}, base=Path("/base")
        )
    assert refused.value.details == {"field": "store_root"}
