"""Which backend a command talks to: the URL given, the workspace's running `yoi serve`, its
config, the default; and a backend of another workspace is said, never silently used."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import string
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.backend.rig import plain_backend
from tests.backend.test_process import Serving
from tests.cli.rig import run_yoi
from tests.isolation import isolated_env, workspace_env

from yoi.backend import create_backend_app
from yoi.cli.backend_address import BackendAddress, Here, backend_url, check_workspace, locate
from yoi.client import BackendClient
from yoi.errors import InvalidRequest, WorkspaceMismatch
from yoi.serving import ServeRecord, ensure_workspace_id, write_record
from yoi.workspace import Workspace

TOKEN = "address-test-token-never-written"

hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)
ipv4 = st.ip_addresses(v=4).map(str)
ports = st.integers(min_value=1, max_value=65535)


@given(host=st.one_of(hostnames, ipv4), port=ports, scheme=st.sampled_from(["", "http://"]))
def test_host_and_port_with_or_without_a_scheme_is_that_http_url(
    host: str, port: int, scheme: str
) -> None:
    url = backend_url(f"{scheme}{host}:{port}")
    assert url == f"http://{host}:{port}"
    assert backend_url(url) == url


@given(host=st.ip_addresses(v=6).map(str), port=ports)
def test_an_ipv6_host_keeps_its_brackets(host: str, port: int) -> None:
    assert backend_url(f"[{host}]:{port}") == f"http://[{host}]:{port}"


@given(st.text(alphabet=string.printable, max_size=40))
def test_any_text_is_a_backend_url_or_a_typed_refusal(text: str) -> None:
    refusal: InvalidRequest | None = None
    try:
        url = backend_url(text)
    except InvalidRequest as error:
        refusal = error
    if refusal is not None:
        assert refusal.details == {"field": "backend"}
    else:
        assert url.startswith(("http://", "https://"))
        assert backend_url(url) == url


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ftp://host:21", "the scheme must be http or https"),
        ("http://me:secret@host:1", "credentials do not go in it"),
        ("host:99999", "Port out of range"),
        ("", "it names no host"),
        ("http://host:1/?q=1", "no query or fragment"),
        ("http://host:port", "Port could not be cast"),
    ],
)
def test_what_is_not_a_backend_url_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(InvalidRequest, match=why) as caught:
        backend_url(text)
    assert "secret" not in caught.value.message or "me:secret" in text


def workspace_in(folder: Path, *, config: str | None = None) -> Workspace:
    (folder / ".git").mkdir(parents=True)
    workspace = Workspace(folder)
    workspace.ensure()
    if config is not None:
        workspace.config.write_text(config, encoding="utf-8")
    return workspace


async def gone_pid() -> int:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    return child.pid


async def test_the_url_given_then_the_running_serve_then_the_config_then_the_default(
    tmp_path: Path,
) -> None:
    plain = workspace_in(tmp_path / "plain")
    configured = workspace_in(tmp_path / "configured", config='[backend]\nlisten = "0.0.0.0:9"\n')
    nested = configured.root / "src" / "deep"
    nested.mkdir(parents=True)
    env = {"YOI_BACKEND_TOKEN": TOKEN}
    assert locate(None, plain.root, env).url == "http://127.0.0.1:8787"
    assert locate(None, nested, env).url == "http://127.0.0.1:9"
    assert locate("localhost:5", nested, env).url == "http://localhost:5"

    record = ServeRecord("http://127.0.0.1:7", os.getpid(), ensure_workspace_id(configured), "t")
    write_record(configured, record)
    found = locate(None, nested, env)
    assert (found.url, found.named, found.token) == ("http://127.0.0.1:7", False, TOKEN)
    assert locate("localhost:5", nested, env).named

    write_record(configured, ServeRecord("http://127.0.0.1:7", await gone_pid(), "ws-x", "t"))
    assert locate(None, nested, env).url == "http://127.0.0.1:9"


@pytest.fixture
async def serving(tmp_path: Path) -> AsyncIterator[Serving]:
    async with Serving(tmp_path) as serving:
        yield serving


async def test_a_client_finds_its_workspaces_serve_and_refuses_another_workspaces(
    serving: Serving, tmp_path: Path
) -> None:
    ours = workspace_in(tmp_path / "ours")
    served = await serving.serve(ours.root, env=isolated_env(YOI_BACKEND_TOKEN=TOKEN))
    record = json.loads((ours.state / "backend.json").read_text(encoding="utf-8"))
    assert record["url"] == served.url
    assert record["pid"] == served.process.pid
    assert TOKEN not in json.dumps(record)

    nested = ours.root / "deep"
    nested.mkdir()
    env = workspace_env(YOI_BACKEND_TOKEN=TOKEN)
    listed = await run_yoi("worker", "list", cwd=nested, env=env)
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[1].split()[:2] == ["backend-internal", "companion"]
    assert listed.err == ""

    port = served.url.rsplit(":", 1)[1]
    theirs = workspace_in(tmp_path / "theirs", config=f'[backend]\nlisten = "127.0.0.1:{port}"\n')
    refused, chat, named = await asyncio.gather(
        run_yoi("worker", "list", cwd=theirs.root, env=env),
        run_yoi("chat", cwd=theirs.root, env=env, stdin="hi"),
        run_yoi("worker", "list", "--backend", f"127.0.0.1:{port}", cwd=theirs.root, env=env),
    )
    mismatch = (
        f"the backend at {served.url} serves workspace 'ours', not 'theirs' (the workspace here)"
    )
    for done in (refused, chat):
        assert done.code == 1
        assert done.err == (
            f"yoi: workspace_mismatch: {mismatch}; run `yoi serve` here, "
            "or pass --backend URL to use that one anyway\n"
        )
    assert named.code == 0, named.err
    assert named.err == f"yoi: {mismatch}\n"
    assert "companion" in named.out

    stopped = await serving.stop(served, signal.SIGTERM)
    assert stopped.code == 0, stopped.err
    assert not (ours.state / "backend.json").exists()


@pytest.mark.parametrize(
    ("here", "named", "says"),
    [
        (Here("ours", "ws-ours", exists=True), False, None),
        (Here("home", None, exists=False), False, "the backend at {url} serves workspace 'ours'"),
        (Here("theirs", "ws-theirs", exists=True), True, "serves workspace 'ours', not 'theirs'"),
        (Here("theirs", None, exists=True), False, WorkspaceMismatch),
    ],
)
async def test_a_backend_of_another_workspace_is_said_or_refused(
    here: Here, named: bool, says: str | type[WorkspaceMismatch] | None
) -> None:
    backend = plain_backend(workspace_name="ours", workspace_id="ws-ours")
    transport = httpx.ASGITransport(app=create_backend_app(backend))
    address = BackendAddress("http://127.0.0.1:1", named=named, here=here)
    async with backend, BackendClient(address.url, transport=transport) as client:
        if isinstance(says, type):
            with pytest.raises(says, match="run `yoi serve` here"):
                await check_workspace(client, address)
            return
        note = await check_workspace(client, address)
    if says is None:
        assert note is None
    else:
        assert note is not None
        assert says.format(url=address.url) in note
