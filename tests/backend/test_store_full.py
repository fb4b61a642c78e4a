"""A runtime whose disk is full: 507 ``store_full`` through the backend, then recovery.

The runtime under test keeps its workers in an fs store over
:class:`yoi.testing.disk.FullDisk`, the store's disk seam, which refuses
writes as a full filesystem does until the test frees its room.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.backend.rig import Kind, open_stack
from tests.server.asgi import error_of

from yoi.runtime import FsStore
from yoi.testing import Text
from yoi.testing.disk import FullDisk


@pytest.mark.parametrize("kind", ["embedded", "remote"])
async def test_a_full_disk_is_store_full_and_the_runtime_recovers_once_there_is_room(
    kind: Kind, tmp_path: Path
) -> None:
    disk = FullDisk()
    store = FsStore(tmp_path / "store", disk=disk)
    async with open_stack(kind, [[Text("back")]], tmp_path, store=store) as stack:
        workers = f"/api/runtimes/{stack.runtime_id}/workers"
        disk.room = 0
        refused = await stack.http.post(workers, json={"worker_id": "w-full"})
        assert error_of(refused, 507)["code"] == "store_full"
        assert str(tmp_path) not in refused.text
        disk.room = None
        await stack.create(worker_id="w-full")

        disk.room = 0
        refused = await stack.send("w-full", "refused")
        assert error_of(refused, 507)["code"] == "store_full"
        worker = (await stack.http.get(stack.path("w-full"))).json()["worker"]
        assert (worker["status"], worker["run"]) == ("idle", None)

        disk.room = None
        async with stack.observe("w-full") as watch:
            await watch.frame()
            assert (await stack.send("w-full", "hello")).status_code == 202
            frames = await watch.until("run_finished")
        assert frames[-1]["event"]["result"] == "completed"
    stack.model.assert_consumed()


async def test_the_companion_answers_again_once_its_disk_has_room(tmp_path: Path) -> None:
    disk = FullDisk()
    store = FsStore(tmp_path / "store", disk=disk)
    async with open_stack("embedded", [[Text("hello")]], tmp_path, store=store) as stack:
        disk.room = 0
        refused = await stack.http.post("/api/companion/messages", json={"content": "hi"})
        assert error_of(refused, 507)["code"] == "store_full"
        companion = (await stack.http.get("/api/companion")).json()["companion"]
        assert companion["status"] == "idle"

        disk.room = None
        async with stack.observe(companion["worker_id"]) as watch:
            await watch.frame()
            sent = await stack.http.post("/api/companion/messages", json={"content": "hi"})
            assert sent.status_code == 202, sent.text
            frames = await watch.until("run_finished")
        assert frames[-1]["event"]["result"] == "completed"
    stack.model.assert_consumed()
