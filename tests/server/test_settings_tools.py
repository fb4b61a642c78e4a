"""``yoi runtime serve`` with repositories and a sandbox mode: what the process makes of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from tests.git_repo import tagged_repo
from tests.server.test_process import Launcher, clean_env

UNCONFINED = "bash runs unconfined (sandbox = 'none'): commands reach the whole host"


async def runtime_body(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.get("/v1/runtime")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_repository_flag_gives_workdirs_of_it_and_sandbox_none_is_a_warning(
    launcher: Launcher, tmp_path: Path
) -> None:
    repository = tagged_repo(tmp_path / "checkout")
    served = await launcher.serve("--repository", "checkout", "--sandbox", "none")
    body = await runtime_body(served.url)
    assert body["runtime"]["sandbox"] == {
        "mode": "none",
        "available": True,
        "diagnostic": UNCONFINED,
    }
    assert "bash" in body["runtime"]["tools"]
    assert {"code": "sandbox_none", "message": UNCONFINED, "worker_id": None} in body["diagnostics"]
    async with httpx.AsyncClient(base_url=served.url) as http:
        made = await http.post("/v1/workdirs", json={"repository": str(repository), "base": "v1"})
        other = await http.post("/v1/workdirs", json={"repository": str(tmp_path), "base": "v1"})
    assert made.status_code == 201, made.text
    assert other.status_code == 400, other.text
    done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert done.err == f"yoi runtime: WARNING: {UNCONFINED}\n"


async def test_where_bwrap_cannot_run_bash_is_unavailable_and_it_says_why(
    launcher: Launcher, tmp_path: Path
) -> None:
    tagged_repo(tmp_path / "checkout")
    empty = tmp_path / "no-programs"
    empty.mkdir()
    config = tmp_path / "runtime.toml"
    config.write_text('repositories = ["checkout"]\nbind = "127.0.0.1:0"\n', encoding="utf-8")
    served = await launcher.serve("--config", str(config), env=clean_env(PATH=str(empty)))
    body = await runtime_body(served.url)
    diagnostic = "bwrap is not installed (Debian: bubblewrap)"
    assert body["runtime"]["sandbox"] == {
        "mode": "bwrap",
        "available": False,
        "diagnostic": diagnostic,
    }
    assert "bash" not in body["runtime"]["tools"]
    assert "read_file" in body["runtime"]["tools"]
    done = await launcher.stop(served)
    assert done.code == 0, done.err
    assert done.err == f"yoi runtime: WARNING: bash is unavailable: {diagnostic}\n"


async def test_without_repositories_nothing_is_probed_and_no_file_tool_is_offered(
    launcher: Launcher, tmp_path: Path
) -> None:
    served = await launcher.serve("--sandbox", "none")
    body = await runtime_body(served.url)
    assert body["runtime"]["sandbox"] is None
    assert not {"bash", "read_file", "write_file"} & set(body["runtime"]["tools"])
    done = await launcher.stop(served)
    assert (done.code, done.err) == (0, "")


async def test_a_repository_that_is_not_a_directory_is_refused_before_listening(
    launcher: Launcher, tmp_path: Path
) -> None:
    done = await launcher.refused("--repository", "absent", "--bind", "127.0.0.1:0")
    assert done.code == 1
    assert done.out == ""
    assert done.err == (
        f"yoi: invalid_request: the repository {tmp_path / 'absent'} is not a directory\n"
    )
