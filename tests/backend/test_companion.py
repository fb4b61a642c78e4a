"""The Companion stays: it cannot be stopped, and one an older version stopped comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tests.backend.rig import BUILTIN_BUNDLE, EMBEDDED, OFFLINE

from yoi.backend import COMPANION_ID, Backend, create_backend_app
from yoi.runtime import FsStore, Runtime, WorkerStatus
from yoi.runtime.events import StatusChanged, WorkerStoppedEvent
from yoi.runtime.status import IllegalTransition
from yoi.testing import ScriptedModel, Text

STOP = f"/api/runtimes/{EMBEDDED}/workers/{COMPANION_ID}/stop"


@asynccontextmanager
async def served(root: Path, *replies: str) -> AsyncIterator[tuple[Backend, httpx.AsyncClient]]:
    """A backend whose embedded runtime keeps its workers under ``root``, and a client of it."""
    model = ScriptedModel([[Text(reply)] for reply in replies])
    runtime = Runtime(runtime_id=EMBEDDED, model=model, store=FsStore(root))
    backend = Backend(runtime=runtime, bundle=BUILTIN_BUNDLE, model=OFFLINE)
    transport = httpx.ASGITransport(app=create_backend_app(backend))
    async with backend, httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield backend, http


async def companion_talk(backend: Backend) -> list[tuple[str, str]]:
    page = await backend.runtime.transcript(COMPANION_ID)
    return [(str(entry.role), entry.content) for entry in page.items]


async def say(backend: Backend, content: str) -> None:
    async with await backend.runtime.subscribe(COMPANION_ID) as events:
        await backend.runtime.send_input(COMPANION_ID, content)
        async for item in events:
            if item.event.type == "run_finished":
                return


async def test_stopping_the_companion_is_refused_and_it_stays_idle(tmp_path: Path) -> None:
    async with served(tmp_path) as (_, http):
        refused = await http.post(STOP, json={"reason": "tidying up"})
        other = await http.post(f"/api/runtimes/{EMBEDDED}/workers", json={"worker_id": "w"})
        stopped = await http.post(f"/api/runtimes/{EMBEDDED}/workers/w/stop", json={})
        companion = (await http.get("/api/companion")).json()["companion"]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "worker_protected"
    assert "cancel its reply instead" in refused.json()["error"]["message"]
    assert companion["status"] == "idle"
    assert (other.status_code, stopped.status_code) == (201, 200)
    assert stopped.json()["ack"]["stopped"] is True


async def test_a_companion_stopped_by_an_older_version_is_back_with_its_history(
    tmp_path: Path,
) -> None:
    async with served(tmp_path, "first answer") as (backend, _):
        await say(backend, "hello")
        before = await companion_talk(backend)
        # What an older version allowed: the Companion stopped for good.
        await backend.runtime.stop_worker(COMPANION_ID, "stopped by an older yoi")
    assert before == [("user", "hello"), ("assistant", "first answer")]

    async with served(tmp_path, "second answer") as (backend, http):
        companion = (await http.get("/api/companion")).json()["companion"]
        assert companion["status"] == "idle"
        assert await companion_talk(backend) == before
        await say(backend, "again")
        assert (await companion_talk(backend))[2:] == [
            ("user", "again"),
            ("assistant", "second answer"),
        ]


async def test_reopening_keeps_the_stopped_workers_events_in_order(tmp_path: Path) -> None:
    async with Runtime(runtime_id=EMBEDDED, store=FsStore(tmp_path)) as runtime:
        worker = await runtime.create_worker()
        assert await runtime.reopen_worker(worker.worker_id) is False  # it was not stopped
        await runtime.stop_worker(worker.worker_id)
        assert await runtime.reopen_worker(worker.worker_id) is True
        assert (await runtime.get_worker(worker.worker_id)).status is WorkerStatus.IDLE
        page = await runtime.events(worker.worker_id)
    last = [event.event for event in page.events][-3:]
    assert last == [StatusChanged("stopped"), WorkerStoppedEvent(None), StatusChanged("idle")]
    assert [event.seq for event in page.events] == sorted({e.seq for e in page.events})


@pytest.mark.parametrize("status", [WorkerStatus.IDLE, WorkerStatus.RUNNING])
def test_only_a_stopped_worker_is_reopened(status: WorkerStatus) -> None:
    assert WorkerStatus.STOPPED.reopened() is WorkerStatus.IDLE
    with pytest.raises(IllegalTransition):
        status.reopened()
