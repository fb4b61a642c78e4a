"""``yoi runtime serve`` as a real process, driven over the network by ``RuntimeClient``."""

from __future__ import annotations

import asyncio
import re
import resource
import signal
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Self

import httpx
import pytest
from tests.isolation import isolated_env

from yoi.client import RemoteSubscription, RuntimeClient
from yoi.errors import Unauthorized, WorkerStopped
from yoi.runtime import Event, Role, WorkerStatus
from yoi.runtime.events import RunFinished, StatusChanged, TextDeltaEvent
from yoi.testing import FakeOpenAIServer, Stall, Text

DEADLINE = 10.0
"""Seconds allowed for a process to start, or for a stream to reach an event."""
SHUTDOWN = 5.0
"""Seconds a signalled process has to exit."""
LOOPBACK = ("--bind", "127.0.0.1:0")
MODEL = "openai:gpt-4o-mini"
KEY = "sk-test-never-printed-51c2"
TOKEN = "runtime-token-never-printed-9e4d"
_LISTENING = re.compile(r"listening on (http://\S+)\n")


def clean_env(**extra: str) -> dict[str, str]:
    """An isolated environment (:func:`tests.isolation.isolated_env`) plus ``extra``."""
    return isolated_env(**extra)


def model_env(fake: FakeOpenAIServer) -> dict[str, str]:
    return clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=fake.base_url)


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


@dataclass
class Served:
    """A runtime process that has said where it listens."""

    process: asyncio.subprocess.Process
    line: str
    url: str
    """Where to reach it: the printed address, with a wildcard host replaced by loopback."""


class Processes:
    """Starts ``python -m yoi`` processes in ``cwd`` and kills whatever is left of them."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._started: list[asyncio.subprocess.Process] = []

    async def spawn(
        self, *args: str, env: dict[str, str], max_files: int | None = None
    ) -> asyncio.subprocess.Process:
        """Start ``python -m yoi *args``, with at most ``max_files`` descriptors if given."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "yoi",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.cwd,
            preexec_fn=None if max_files is None else partial(_limit_files, max_files),
        )
        self._started.append(process)
        return process

    async def finish(self, process: asyncio.subprocess.Process, deadline: float = DEADLINE) -> Done:
        async with asyncio.timeout(deadline):
            out, err = await process.communicate()
        assert process.returncode is not None
        return Done(process.returncode, out.decode(), err.decode())

    async def aclose(self) -> None:
        for process in self._started:
            if process.returncode is None:
                process.kill()
                await process.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Launcher(Processes):
    """Starts ``yoi runtime serve`` processes."""

    async def start(
        self, *args: str, env: dict[str, str], max_files: int | None = None
    ) -> asyncio.subprocess.Process:
        return await self.spawn("runtime", "serve", *args, env=env, max_files=max_files)

    async def serve(
        self, *args: str, env: dict[str, str] | None = None, max_files: int | None = None
    ) -> Served:
        """Start a runtime and wait for its one ``listening on`` line."""
        with_bind = args if "--bind" in args or "--config" in args else (*args, *LOOPBACK)
        env = clean_env() if env is None else env
        process = await self.start(*with_bind, env=env, max_files=max_files)
        assert process.stdout is not None
        async with asyncio.timeout(DEADLINE):
            line = (await process.stdout.readline()).decode()
        found = _LISTENING.fullmatch(line)
        if found is None:
            done = await self.finish(process)
            raise AssertionError(f"no listening line: {line!r}; exit {done.code}: {done.err}")
        return Served(process, line, found.group(1))

    async def refused(self, *args: str, env: dict[str, str] | None = None) -> Done:
        """Start a runtime that is expected to give up on its own."""
        process = await self.start(*args, env=clean_env() if env is None else env)
        return await self.finish(process)

    async def stop(self, served: Served, signum: int = signal.SIGTERM) -> Done:
        """Signal a runtime and collect what it wrote; it must exit within ``SHUTDOWN`` seconds."""
        served.process.send_signal(signum)
        done = await self.finish(served.process, deadline=SHUTDOWN)
        return Done(done.code, served.line + done.out, done.err)


def _limit_files(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


async def until(stream: RemoteSubscription, event_type: str, *, count: int = 1) -> list[Event]:
    """Events from ``stream`` up to and including the ``count``-th ``event_type``, in time."""
    seen: list[Event] = []
    async with asyncio.timeout(DEADLINE):
        async for event in stream:
            seen.append(event)
            if event.event.type == event_type and (count := count - 1) == 0:
                return seen
    raise AssertionError(f"the stream ended before {event_type}: {[e.event.type for e in seen]}")


async def rest_of(stream: RemoteSubscription) -> list[Event]:
    """Every event until the server ends the stream, within ``DEADLINE``."""
    async with asyncio.timeout(DEADLINE):
        return [event async for event in stream]


def results(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event.run_id, e.event.result) for e in events if isinstance(e.event, RunFinished)]


def text_of(events: list[Event]) -> str:
    return "".join(e.event.text for e in events if isinstance(e.event, TextDeltaEvent))


async def test_a_worker_runs_on_the_offline_model_and_its_stream_follows_to_run_finished(
    launcher: Launcher,
) -> None:
    served = await launcher.serve()
    assert served.url.startswith("http://127.0.0.1:")
    async with RuntimeClient(served.url) as client:
        summary = await client.summary()
        assert (summary.model, summary.store) == ("scripted:offline", "memory")
        worker = await client.create_worker()
        async with await client.subscribe(worker.worker_id) as stream:
            ack = await client.send_input(worker.worker_id, "hello over the wire")
            events = await until(stream, "run_finished")
        transcript = await client.transcript(worker.worker_id)
    assert events[0].event.type == "snapshot"
    assert results(events) == [(ack.run_id, "completed")]
    reply = text_of(events)
    assert reply.endswith("You said: hello over the wire")
    assert [(entry.role, entry.content) for entry in transcript.items] == [
        (Role.USER, "hello over the wire"),
        (Role.ASSISTANT, reply),
    ]
    assert transcript.total == 2
    done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert done.out == served.line


async def test_cancel_ends_a_stalled_run_cancelled_and_stop_then_refuses_input(
    launcher: Launcher,
) -> None:
    async with FakeOpenAIServer([[Text("partial"), Stall()]]) as fake:
        served = await launcher.serve("--model", MODEL, env=model_env(fake))
        async with RuntimeClient(served.url) as client:
            worker = await client.create_worker()
            async with await client.subscribe(worker.worker_id) as stream:
                ack = await client.send_input(worker.worker_id, "take your time")
                assert text_of(await until(stream, "text_delta")) == "partial"
                cancelled = await client.cancel_worker(worker.worker_id)
                ended = await until(stream, "run_finished")
                status = (await until(stream, "status"))[-1].event
            assert cancelled.cancelled
            assert results(ended) == [(ack.run_id, "cancelled")]
            assert status == StatusChanged("idle")
            assert (await client.get_worker(worker.worker_id)).status is WorkerStatus.IDLE

            stopped = await client.stop_worker(worker.worker_id, reason="done for today")
            assert (stopped.worker_id, stopped.stopped) == (worker.worker_id, True)
            with pytest.raises(WorkerStopped):
                await client.send_input(worker.worker_id, "one more thing")
            assert (await client.get_worker(worker.worker_id)).status is WorkerStatus.STOPPED
        fake.assert_consumed()
        done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in done.out + done.err


async def test_sigterm_during_a_run_exits_0_and_the_restarted_runtime_records_it_cancelled(
    launcher: Launcher,
) -> None:
    store = ("--store", "fs", "--store-root", "state", "--runtime-id", "box")
    async with FakeOpenAIServer([[Text("partial"), Stall()]]) as fake:
        first = await launcher.serve(*store, "--model", MODEL, env=model_env(fake))
        async with RuntimeClient(first.url) as client:
            worker = await client.create_worker()
            async with await client.subscribe(worker.worker_id) as stream:
                ack = await client.send_input(worker.worker_id, "a long job")
                await until(stream, "text_delta")
                done = await launcher.stop(first, signal.SIGTERM)
                last = await rest_of(stream)
            assert done.code == 0, done.err
            assert results(last) == [(ack.run_id, "cancelled")]
            assert stream.close_code == 1001

    second = await launcher.serve(*store)
    async with RuntimeClient(second.url) as client:
        assert (await client.summary()).runtime_id == "box"
        page = await client.events(worker.worker_id, limit=500)
        assert results(list(page.events)) == [(ack.run_id, "cancelled")]
        assert (await client.get_worker(worker.worker_id)).status is WorkerStatus.IDLE
    done = await launcher.stop(second, signal.SIGINT)
    assert done.code == 0, done.err


async def test_a_restarted_runtime_resumes_the_stream_by_cursor_without_gaps_or_repeats(
    launcher: Launcher,
) -> None:
    store = ("--store", "fs", "--store-root", "state", "--runtime-id", "box")
    first = await launcher.serve(*store)
    async with RuntimeClient(first.url) as client:
        worker = await client.create_worker()
        async with await client.subscribe(worker.worker_id) as stream:
            await client.send_input(worker.worker_id, "first")
            before = await until(stream, "run_finished")
    accepted = next(e for e in before if e.event.type == "input_accepted")
    assert (await launcher.stop(first)).code == 0

    second = await launcher.serve(*store)
    async with RuntimeClient(second.url) as client:
        async with await client.subscribe(worker.worker_id, accepted.cursor) as stream:
            snapshot = await until(stream, "snapshot")
            await client.send_input(worker.worker_id, "second")
            resumed = await until(stream, "run_finished", count=2)
            resumed += await until(stream, "status")
        logged = await client.events(worker.worker_id, after=accepted.cursor, limit=500)
    assert [e.event.type for e in snapshot] == ["snapshot"]
    assert [e.seq for e in resumed] == list(
        range(accepted.seq + 1, accepted.seq + 1 + len(resumed))
    )
    assert [e.to_dict() for e in resumed] == [e.to_dict() for e in logged.events]
    assert text_of(resumed).count("You said: first") == 1
    assert text_of(resumed).count("You said: second") == 1
    assert (await launcher.stop(second)).code == 0


async def test_a_second_process_on_the_same_store_root_fails_fast_as_store_locked(
    launcher: Launcher,
) -> None:
    store = ("--store", "fs", "--store-root", "state")
    served = await launcher.serve(*store)
    refused = await launcher.refused(*store, *LOOPBACK)
    assert refused.code == 1
    assert refused.err.startswith("yoi: store_locked: ")
    assert "listening on" not in refused.out
    assert "Traceback" not in refused.err
    assert (await launcher.stop(served)).code == 0


async def test_beyond_loopback_a_token_is_required_and_never_shown(launcher: Launcher) -> None:
    refused = await launcher.refused("--bind", "0.0.0.0:0")
    assert refused.code == 1
    assert refused.err == (
        "yoi: invalid_request: refusing to listen on 0.0.0.0 without a token: anyone who can "
        "reach it could drive this runtime; give one with --token-env or --token-file\n"
    )
    assert refused.out == ""

    # Tests bind only to loopback: the token's guard is the same on any address.
    env = clean_env(RUNTIME_TOKEN=TOKEN)
    served = await launcher.serve("--bind", "127.0.0.1:0", "--token-env", "RUNTIME_TOKEN", env=env)
    assert served.line.startswith("listening on http://127.0.0.1:")
    async with (
        RuntimeClient(served.url) as anonymous,
        RuntimeClient(served.url, token="wrong") as wrong,
    ):
        assert await anonymous.health()
        with pytest.raises(Unauthorized):
            await anonymous.summary()
        with pytest.raises(Unauthorized):
            await wrong.create_worker()
        with pytest.raises(Unauthorized):
            await wrong.subscribe("w-nobody")
    async with RuntimeClient(served.url, token=TOKEN) as client:
        worker = await client.create_worker()
        async with await client.subscribe(worker.worker_id) as stream:
            assert (await until(stream, "snapshot"))[0].worker_id == worker.worker_id
    done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert TOKEN not in done.out + done.err


async def test_a_config_file_is_honoured_with_flags_winning_and_a_token_file_guards_it(
    launcher: Launcher, tmp_path: Path
) -> None:
    config = tmp_path / "conf" / "runtime.toml"
    config.parent.mkdir()
    config.write_text(
        'runtime_id = "from-file"\n'
        'display_name = "Configured box"\n'
        'bind = "127.0.0.1:0"\n'
        'store = "fs"\n'
        'store_root = "state"\n',
        encoding="utf-8",
    )
    (tmp_path / "runtime.token").write_text(f"{TOKEN}\n", encoding="utf-8")
    served = await launcher.serve(
        "--config",
        "conf/runtime.toml",
        "--runtime-id",
        "from-flag",
        "--token-file",
        "runtime.token",
    )
    assert not served.url.endswith(":7701")
    async with httpx.AsyncClient(base_url=served.url) as http:
        anonymous = await http.get("/v1/runtime")
        authorized = await http.get("/v1/runtime", headers={"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert authorized.status_code == 200
    summary = authorized.json()["runtime"]
    assert (summary["runtime_id"], summary["display_name"], summary["store"]) == (
        "from-flag",
        "Configured box",
        "fs",
    )
    assert (tmp_path / "conf" / "state").is_dir()
    assert not (tmp_path / "state").exists()
    done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert TOKEN not in done.out + done.err


async def test_without_a_token_only_loopback_names_and_the_bind_address_are_answered(
    launcher: Launcher,
) -> None:
    served = await launcher.serve("--bind", "127.0.0.2:0")
    port = served.url.rpartition(":")[2]
    async with RuntimeClient(served.url) as client:
        worker = await client.create_worker()
        await client.send_input(worker.worker_id, "a private note")
    transcript = f"{served.url}/v1/workers/{worker.worker_id}/transcript"
    async with httpx.AsyncClient() as http:
        bound = await http.get(transcript)
        rebound = await http.get(transcript, headers={"Host": f"rebind.test:{port}"})
    assert bound.status_code == 200, bound.text
    assert rebound.status_code == 403
    assert rebound.json()["error"]["code"] == "forbidden_host"
    assert "private" not in rebound.text
    done = await launcher.stop(served)
    assert done.code == 0, done.err
