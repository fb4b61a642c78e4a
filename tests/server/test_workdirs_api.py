"""The workdir routes through the real app (httpx ASGITransport) over real temporary repos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.git_repo import git, tagged_repo
from tests.server.asgi import app_client, assert_envelope, error_of

from yoi.runtime import Runtime
from yoi.runtime.workdirs import Workdirs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tagged_repo(tmp_path / "repo")


@pytest.fixture
async def http(repo: Path, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    workdirs = Workdirs(repositories=[repo], folder=tmp_path / "worktrees")
    async with Runtime(workdirs=workdirs) as runtime, app_client(runtime) as client:
        yield client


async def test_a_workdir_is_created_listed_shown_and_deleted(
    http: httpx.AsyncClient, repo: Path
) -> None:
    made = await http.post("/v1/workdirs", json={"repository": str(repo), "base": "v1"})
    assert made.status_code == 201, made.text
    workdir = made.json()["workdir"]
    assert workdir["base_commit"] == git(repo, "rev-parse", "v1").strip()
    assert workdir["state"] == "present"
    assert workdir["disk_bytes"] > 0
    listed = await http.get("/v1/workdirs")
    assert listed.json() == {"workdirs": [workdir]}
    shown = await http.get(f"/v1/workdirs/{workdir['workdir_id']}")
    assert shown.json() == {"workdir": workdir}
    deleted = await http.delete(f"/v1/workdirs/{workdir['workdir_id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {
        "deleted": {
            "workdir_id": workdir["workdir_id"],
            "worktree_removed": True,
            "branch_deleted": False,
        }
    }
    gone = await http.get(f"/v1/workdirs/{workdir['workdir_id']}")
    assert error_of(gone, 404)["code"] == "workdir_not_found"


async def test_delete_refuses_unmerged_work_with_409_until_forced(
    http: httpx.AsyncClient, repo: Path, tmp_path: Path
) -> None:
    body = {"repository": str(repo), "base": "main", "branch": "work/api"}
    workdir = (await http.post("/v1/workdirs", json=body)).json()["workdir"]
    path = tmp_path / "worktrees" / workdir["workdir_id"]
    (path / "new.txt").write_text("work\n")
    git(path, "add", "new.txt")
    git(path, "commit", "-q", "-m", "Work")
    shown = (await http.get(f"/v1/workdirs/{workdir['workdir_id']}")).json()["workdir"]
    assert shown["unmerged"] == 1
    refused = await http.delete(f"/v1/workdirs/{workdir['workdir_id']}")
    error = error_of(refused, 409)
    assert error["code"] == "workdir_unmerged"
    assert error["details"] == {"unmerged": 1}
    bad_force = await http.delete(f"/v1/workdirs/{workdir['workdir_id']}?force=perhaps")
    assert error_of(bad_force, 400)["code"] == "invalid_request"
    forced = await http.delete(f"/v1/workdirs/{workdir['workdir_id']}?force=true")
    assert forced.json()["deleted"]["branch_deleted"] is True
    assert "work/api" not in git(repo, "branch", "--list")


@pytest.mark.parametrize(
    "body",
    [
        {"repository": "/elsewhere", "base": "main"},
        {"base": "main"},
        {"repository": "REPO", "base": "--output=x"},
        {"repository": "REPO", "base": "-h"},
        {"repository": "REPO", "base": "main", "branch": "a..b"},
        {"repository": "REPO", "base": "main", "extra": 1},
        {"repository": "REPO", "base": 7},
    ],
)
async def test_a_bad_create_is_a_typed_400(
    http: httpx.AsyncClient, repo: Path, body: dict[str, object]
) -> None:
    sent = {key: str(repo) if value == "REPO" else value for key, value in body.items()}
    response = await http.post("/v1/workdirs", json=sent)
    assert error_of(response, 400)["code"] == "invalid_request"
    assert (await http.get("/v1/workdirs")).json() == {"workdirs": []}


async def test_a_malformed_id_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/workdirs/Not-An-Id")
    assert error_of(response, 400)["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/workdirs"),
        ("GET", "/v1/workdirs"),
        ("GET", "/v1/workdirs/wd-any"),
        ("DELETE", "/v1/workdirs/wd-any"),
    ],
)
async def test_without_workdirs_every_route_is_501(method: str, path: str) -> None:
    async with Runtime() as runtime, app_client(runtime) as http:
        body = {"repository": "/r", "base": "main"} if method == "POST" else None
        response = await http.request(method, path, json=body)
    assert error_of(response, 501)["code"] == "unsupported_operation"


async def test_the_sweep_at_start_is_a_runtime_diagnostic(repo: Path, tmp_path: Path) -> None:
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "worktrees" / "stray"), "v1")
    workdirs = Workdirs(repositories=[repo], folder=tmp_path / "worktrees")
    async with Runtime(workdirs=workdirs) as runtime, app_client(runtime) as http:
        found = (await http.get("/v1/runtime")).json()["diagnostics"]
    assert [item["code"] for item in found if item["code"] == "workdir_orphan"] == [
        "workdir_orphan"
    ]
    assert (tmp_path / "worktrees" / "stray").is_dir()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=5,
)
BASES = st.sampled_from(["main", "v1", "HEAD", "main~0", "-h", "--output=x", "nope", "main~5"])
BRANCHES = st.none() | st.sampled_from(["work/a", "b-1", "@{-1}", "a..b", "-x", "main"])


def likely(
    usual: st.SearchStrategy[object], other: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """``usual`` four times in five, so that valid creates stay common."""
    return st.integers(0, 4).flatmap(lambda pick: usual if pick else other)


@st.composite
def bodies(draw: st.DrawFn, repository: str) -> object:
    """JSON values, most of them objects near a valid create, some anything at all."""
    fields: dict[str, object] = {}
    if draw(st.integers(0, 9)) > 0:
        fields["repository"] = draw(likely(st.just(repository), st.just("/elsewhere") | JSON))
    if draw(st.integers(0, 9)) > 0:
        fields["base"] = draw(likely(BASES, st.text() | JSON))
    if draw(st.booleans()):
        fields["branch"] = draw(likely(BRANCHES, st.text() | JSON))
    if draw(st.integers(0, 9)) == 0:
        fields[draw(st.text(max_size=8))] = draw(JSON)
    return draw(st.just(fields) | JSON) if draw(st.integers(0, 9)) == 0 else fields


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
async def test_any_json_body_creates_or_is_refused_with_a_typed_400(
    http: httpx.AsyncClient, repo: Path, data: st.DataObject
) -> None:
    body = data.draw(bodies(str(repo)))
    response = await http.post("/v1/workdirs", json=body)
    assert_envelope(response.status_code, response.json(), context=response.text)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid_request"
        return
    assert isinstance(body, dict)
    workdir = response.json()["workdir"]
    assert (workdir["repository"], workdir["base_ref"]) == (str(repo), body["base"])
    assert workdir["branch"] == body.get("branch")
    deleted = await http.delete(f"/v1/workdirs/{workdir['workdir_id']}?force=true")
    assert deleted.status_code == 200
