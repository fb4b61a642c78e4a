"""The worker console against a real backend: streamed replies, tool calls, approvals,
cancelling, and a stream that drops (resumed by cursor) or expires (resynced)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from tests.deploy_tool import Deploy
from tests.tui.rig import DEADLINE, EMBEDDED, ProbeApp, TuiBackend, tui_backend
from textual.pilot import Pilot
from textual.widgets import Button, Collapsible, Input

from yoi.backend import Backend, ModelLabel, create_backend_app
from yoi.backend.profiles import workspace_bundle
from yoi.client import BackendClient
from yoi.engine.tool import ToolResult
from yoi.providers.script import Turn
from yoi.runtime import CapabilityRequest, Runtime
from yoi.runtime.stores import MemoryStore
from yoi.server.listen import listening
from yoi.testing import Call, ScriptedModel, Stall, Text, Think
from yoi.tickets import TicketStore
from yoi.tui.console import ConfirmStop, ConsolePanel, ConsoleScreen
from yoi.tui.conversation_view import ItemView, plain_text
from yoi.tui.transcript import Item
from yoi.workspace import Workspace

GUARDED = """+++
tools = ["deploy"]
permissions = ['deploy: "*production*" -> ask']
+++
You deploy when asked.
"""


async def until(pilot: Pilot[None], condition: Callable[[], object], what: str) -> None:
    """Wait, with a deadline, until ``condition()`` holds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def panel(app: ProbeApp) -> ConsolePanel:
    return app.screen.query_one(ConsolePanel)


def items(app: ProbeApp) -> list[Item]:
    return panel(app).conversation.items


def texts(app: ProbeApp) -> list[tuple[str, str]]:
    return [(item.kind, item.text) for item in items(app) if item.kind != "notice"]


def drawn(app: ProbeApp) -> str:
    """Everything the conversation shows, as plain text."""
    return plain_text(panel(app).view)


def all_drawn(app: ProbeApp) -> bool:
    """Whether every item of the conversation has its view, drawn at its version."""
    views = {view.item.uid: view for view in panel(app).view.query(ItemView)}
    return all(item.uid in views and views[item.uid].shown == item.version for item in items(app))


def drawn_buttons(app: ProbeApp) -> list[str]:
    return [str(button.label) for button in app.screen.query(Button) if button.display]


def guarded(root: Path) -> None:
    profiles = root / "workspace" / ".yoi" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "guarded.md").write_text(GUARDED)


async def make_worker(backend: TuiBackend, worker_id: str, *, deploy: bool = False) -> None:
    async with backend.connect() as client:
        if deploy:
            await client.create_worker(
                EMBEDDED,
                worker_id=worker_id,
                profile="guarded",
                capabilities=[CapabilityRequest("deploy")],
            )
        else:
            await client.create_worker(EMBEDDED, worker_id=worker_id)


def console_app(backend: TuiBackend, worker_id: str) -> ProbeApp:
    return ProbeApp(backend.connect, lambda: ConsoleScreen(EMBEDDED, worker_id))


async def send(pilot: Pilot[None], text: str) -> None:
    field = pilot.app.screen.query_one(Input)
    field.focus()
    field.value = text
    await pilot.press("enter")


async def test_a_message_is_sent_and_the_reply_streams_in(tmp_path: Path) -> None:
    turns: list[Turn] = [[Think("Let me", " think"), Text("Hello", " from", " far")]]
    async with tui_backend(tmp_path, turns) as backend:
        await make_worker(backend, "ada")
        app = console_app(backend, "ada")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "Say hello")
            await until(
                pilot,
                lambda: ("assistant", "Hello from far") in texts(app) and not items(app)[-2].live,
                "the reply",
            )
            assert texts(app) == [
                ("user", "Say hello"),
                ("thinking", "Let me think"),
                ("assistant", "Hello from far"),
            ]
            await until(pilot, lambda: "Hello from far" in drawn(app), "the reply drawn")
            assert pilot.app.screen.query_one(Input).value == ""
            assert app.reported == []


async def test_a_tool_call_shows_its_arguments_and_result(tmp_path: Path) -> None:
    guarded(tmp_path)
    turns: list[Turn] = [
        [Call("deploy", {"target": "staging"}, id="c1")],
        [Text("deployed it")],
    ]
    async with tui_backend(tmp_path, turns, tools=[Deploy()]) as backend:
        await make_worker(backend, "ops", deploy=True)
        app = console_app(backend, "ops")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "ship to staging")
            await until(pilot, lambda: ("assistant", "deployed it") in texts(app), "the reply")
            call = next(item for item in items(app) if item.kind == "tool")
            assert (call.name, call.done, call.is_error) == ("deploy", True, False)
            assert '"target": "staging"' in call.arguments
            await until(pilot, lambda: call.result == "deployed", "the result read back")
            await until(
                pilot,
                lambda: "staging" in drawn(app) and "deployed" in drawn(app),
                "the call drawn",
            )


async def answered(tmp_path: Path, key: str) -> tuple[list[Item], list[dict[str, object]]]:
    guarded(tmp_path)
    deploy = Deploy()
    turns: list[Turn] = [[Call("deploy", {"target": "production"}, id="c1")], [Text("over")]]
    async with tui_backend(tmp_path, turns, tools=[deploy]) as backend:
        await make_worker(backend, "ops", deploy=True)
        app = console_app(backend, "ops")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "ship to production")
            await until(pilot, lambda: panel(app).conversation.pending_approvals, "the approval")
            await until(pilot, lambda: "Allow" in drawn_buttons(app), "the Allow button")
            if key.startswith("#"):
                # the button itself, reached by Tab as a keyboard user would (a click could
                # land elsewhere while the view still scrolls to the newest)
                button = app.screen.query_one(key, Button)
                button.focus()
                await until(pilot, lambda: button.has_focus, "the button focused")
                await pilot.press("enter")
            else:
                await pilot.press(key)
            await until(pilot, lambda: ("assistant", "over") in texts(app), "the run's end")
            calls = [item for item in items(app) if item.kind == "tool"]
            return calls, [dict(call) for call in deploy.calls]


async def test_an_approval_is_allowed_by_key(tmp_path: Path) -> None:
    calls, reached = await answered(tmp_path, "ctrl+y")
    assert calls[0].approval is not None
    assert calls[0].approval.decision == "allow"
    assert reached == [{"target": "production"}]


async def test_an_approval_is_denied_with_its_button(tmp_path: Path) -> None:
    calls, reached = await answered(tmp_path, "#deny")
    assert calls[0].approval is not None
    assert calls[0].approval.decision == "deny"
    assert reached == []


async def test_a_run_is_cancelled(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("Working"), Stall()]]
    async with tui_backend(tmp_path, turns) as backend:
        await make_worker(backend, "slow")
        app = console_app(backend, "slow")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "work")
            await until(pilot, lambda: ("assistant", "Working") in texts(app), "the start")
            await pilot.press("ctrl+g")
            await until(
                pilot,
                lambda: any(item.text == "run cancelled" for item in items(app)),
                "the cancelled run",
            )
            reply = next(item for item in items(app) if item.kind == "assistant")
            assert reply.cut == "cancelled"
            assert not reply.live
            await until(pilot, lambda: panel(app).conversation.status == "idle", "idle")


async def test_a_dropped_stream_resumes_without_loss_or_duplication(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("one")], [Text("t", "w", "o")], [Text("three")]]
    async with tui_backend(tmp_path, turns) as backend:
        await make_worker(backend, "w")
        app = console_app(backend, "w")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "first")
            await until(pilot, lambda: ("assistant", "one") in texts(app), "one")
            fresh = count_fresh_snapshots(panel(app))
            # while the stream is cut, the worker runs: its events wait in the backlog
            await answered_while_cut(pilot, backend, app, "second")
            await until(pilot, lambda: ("assistant", "two") in texts(app), "two, resumed")
            await send(pilot, "third")
            await until(pilot, lambda: ("assistant", "three") in texts(app), "three")
            assert texts(app) == [
                ("user", "first"),
                ("assistant", "one"),
                ("user", "second"),
                ("assistant", "two"),
                ("user", "third"),
                ("assistant", "three"),
            ]
            assert fresh == []


async def test_an_expired_cursor_resyncs_from_a_snapshot(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text("one")], [Text(*"many deltas, more than the log keeps")]]
    async with small_log_backend(tmp_path, turns) as backend:
        await make_worker(backend, "w")
        app = console_app(backend, "w")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "first")
            await until(pilot, lambda: ("assistant", "one") in texts(app), "one")
            fresh = count_fresh_snapshots(panel(app))
            await answered_while_cut(pilot, backend, app, "second")
            reply = "many deltas, more than the log keeps"
            await until(pilot, lambda: ("assistant", reply) in texts(app), "the resync")
            assert fresh == [True]
            assert texts(app) == [
                ("user", "first"),
                ("assistant", "one"),
                ("user", "second"),
                ("assistant", reply),
            ]
            await until(pilot, lambda: reply in drawn(app), "the resync drawn")
            assert "one" in drawn(app)


def count_fresh_snapshots(console: ConsolePanel) -> list[bool]:
    """Every snapshot that made the conversation start over, from now on."""
    seen: list[bool] = []
    original = console.conversation.snapshot

    def snapshot(body: Mapping[str, Any]) -> None:
        seen.append(True)
        original(body)

    console.conversation.snapshot = snapshot  # type: ignore[method-assign]
    return seen


async def cut(pilot: Pilot[None], console: ConsolePanel) -> None:
    """Cut the console's stream as a network would (the connection aborted, no close frame),
    or, when it is cut already, wake the loop that waits to open it again."""
    if console.stream_state != "live":
        console.retry_now()
        return
    subscription = console.subscription
    assert subscription is not None
    transport = subscription._connection.transport
    transport.abort()
    await until(pilot, lambda: console.stream_state == "reconnecting", "the cut")


async def answered_while_cut(
    pilot: Pilot[None], backend: TuiBackend, app: ProbeApp, content: str
) -> None:
    """Cut the console's stream, have worker ``w`` answer ``content`` meanwhile (its events
    wait in the backlog), then end the long reconnect pause: the loop resumes at once."""
    panel(app).reconnect_pause = 60.0
    await cut(pilot, panel(app))
    async with backend.connect() as client:
        await client.send_input(EMBEDDED, "w", content)
        await wait_idle(client, "w")
    panel(app).reconnect_pause = 0.05
    await cut(pilot, panel(app))


async def wait_idle(client: BackendClient, worker_id: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while (worker := await client.get_worker(EMBEDDED, worker_id)).run is not None or (
        worker.queued_inputs
    ):
        assert time.monotonic() < deadline, "the worker did not finish"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def small_log_backend(tmp_path: Path, turns: Sequence[Turn]) -> AsyncIterator[TuiBackend]:
    """Like the rig's backend, but its runtime keeps only the last 8 events of a worker."""
    root = tmp_path / "workspace"
    root.mkdir(parents=True, exist_ok=True)
    model = ScriptedModel(turns, name="scripted:tui")
    runtime = Runtime(runtime_id=EMBEDDED, model=model, store=MemoryStore(max_events=8))
    tickets = TicketStore(root / ".yoi" / "tickets")
    backend = Backend(
        runtime=runtime,
        bundle=workspace_bundle(Workspace(root)),
        model=ModelLabel("scripted:tui", False),
        tickets=tickets,
        workspace_name="tui-test",
    )
    async with backend, listening(create_backend_app(backend), "127.0.0.1", 0) as listener:
        yield TuiBackend(
            f"http://127.0.0.1:{listener.port}", backend, runtime, model, tickets, root
        )


async def test_older_entries_are_paged_in_at_the_top(tmp_path: Path) -> None:
    turns: list[Turn] = [[Text(f"reply {n}")] for n in range(40)]
    async with tui_backend(tmp_path, turns) as backend:
        await make_worker(backend, "chatty")
        async with backend.connect() as client:
            for n in range(40):
                await client.send_input(EMBEDDED, "chatty", f"message {n}")
                await wait_idle(client, "chatty")
        app = console_app(backend, "chatty")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            conversation = panel(app).conversation
            assert conversation.oldest == 61  # the snapshot's tail: the last 20 entries
            panel(app).view.focus()
            pages = 0
            while conversation.more_before:
                shown = conversation.oldest
                await until(pilot, lambda: all_drawn(app), "the page drawn")
                await pilot.press("home")
                await until(pilot, lambda: conversation.oldest != shown, "an older page")  # noqa: B023
                pages += 1
            assert pages >= 1  # 61 → 11 → 1, fifty entries a page (one press may read both)
            sequences = [item.sequence for item in conversation.items]
            assert sequences == list(range(1, 81))
            assert texts(app)[:2] == [("user", "message 0"), ("assistant", "reply 0")]
            await until(pilot, lambda: "message 0" in drawn(app), "the oldest drawn")


async def test_the_busy_policy_decides_what_a_message_to_a_busy_worker_does(
    tmp_path: Path,
) -> None:
    turns: list[Turn] = [[Text("Working"), Stall()], [Text("next")]]
    async with tui_backend(tmp_path, turns) as backend:
        await make_worker(backend, "busy")
        app = console_app(backend, "busy")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "start")
            await until(pilot, lambda: ("assistant", "Working") in texts(app), "the run")
            await send(pilot, "refused")
            await until(pilot, lambda: app.reported, "the refusal")
            assert [getattr(error, "code", None) for error in app.reported] == ["worker_busy"]
            assert app.screen.query_one(Input).value == "refused"  # kept to send again
            await pilot.press("ctrl+o")  # reject → queue
            await send(pilot, "queued")
            await until(pilot, lambda: ("user", "queued") in texts(app), "the queued input")
            queued = next(item for item in items(app) if item.text == "queued")
            assert queued.queued
            await pilot.press("ctrl+g")  # cancel: the run, and the input queued behind it
            dropped = "run cancelled — cancelled: cancelled before it started"
            await until(pilot, lambda: ("error", dropped) in texts(app), "the queue dropped")
            assert not queued.queued


async def test_a_worker_is_stopped_after_a_confirmation(tmp_path: Path) -> None:
    async with tui_backend(tmp_path) as backend:
        await make_worker(backend, "done")
        app = console_app(backend, "done")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: isinstance(app.screen, ConfirmStop), "the question")
            await pilot.press(*"finished")
            await pilot.press("enter")
            await until(
                pilot, lambda: panel(app).conversation.status == "stopped", "the stopped worker"
            )
            assert any(item.text == "worker stopped: finished" for item in items(app))
            await until(pilot, lambda: app.screen.query_one(Input).disabled, "no more input")
            async with backend.connect() as client:
                worker = await client.get_worker(EMBEDDED, "done")
            assert str(worker.status) == "stopped"


class Echo:
    """``echo``: answers with its ``text`` argument (a tool of this test)."""

    name = "echo"
    description = "Says back what it is given."
    parameters: Mapping[str, object] = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
    }

    async def call(self, arguments: Mapping[str, object]) -> ToolResult:
        text = str(arguments.get("text", ""))
        return ToolResult(f"echoed {len(text)} characters", text)


DIFF = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old = 1\n+new = 2\n"


async def test_a_diff_is_coloured_and_thinking_is_folded(tmp_path: Path) -> None:
    profiles = tmp_path / "workspace" / ".yoi" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "echoing.md").write_text('+++\ntools = ["echo"]\n+++\nYou echo.\n')
    turns: list[Turn] = [
        [Think("Let me", " look"), Call("echo", {"text": DIFF}, id="c1")],
        [Text("changed")],
    ]
    async with tui_backend(tmp_path, turns, tools=[Echo()]) as backend:
        async with backend.connect() as client:
            await client.create_worker(
                EMBEDDED, worker_id="e", profile="echoing", capabilities=[CapabilityRequest("echo")]
            )
        app = console_app(backend, "e")
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: panel(app).stream_state == "live", "the stream")
            await send(pilot, "show me the change")
            await until(pilot, lambda: ("assistant", "changed") in texts(app), "the reply")
            call = next(item for item in items(app) if item.kind == "tool")
            await until(pilot, lambda: call.result == DIFF and all_drawn(app), "the output")
            view = next(v for v in panel(app).view.query(ItemView) if v.item is call)
            assert isinstance(view.rendered, Group)
            arguments, output = [p for p in view.rendered.renderables if isinstance(p, Syntax)]
            assert arguments.lexer is not None
            assert output.lexer is not None
            assert (arguments.lexer.name, output.lexer.name) == ("JSON", "Diff")
            assert output.code == DIFF.rstrip("\n")
            assert "+new = 2" in drawn(app)
            thinking = app.screen.query_one(Collapsible)
            assert (thinking.collapsed, str(thinking.title)) == (True, "Thought")
