"""The web console as the backend serves it: the page, its files, and the headers on every answer.

The app runs in-process (``httpx.ASGITransport``). Besides the answers, the
console folder itself is checked: whatever ``index.html`` loads and every
module a script imports must exist, and nothing may come from another origin.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import httpx
import pytest
from tests.backend.rig import BUILTIN_BUNDLE, plain_backend
from tests.server.asgi import error_of

from yoi.backend import Backend, create_backend_app
from yoi.web import ASSETS

TOKEN = "console-token"
SECRET = "the contents of a file outside the console folder"
STRICT_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
JAVASCRIPT = ("text/javascript", "application/javascript")
CONTENT_TYPES = {".js": JAVASCRIPT, ".css": ("text/css",), ".html": ("text/html",)}

# What a file may point at: HTML attributes, CSS url()/@import, JS import specifiers.
_HTML_REF = re.compile(r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?([^"'\s>]+)""", re.I)
_CSS_REF = re.compile(r"""(?:url\(\s*["']?([^"')\s]+)|@import\s+["']([^"']+))""", re.I)
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']""",
    re.M,
)
_DYNAMIC_IMPORT = re.compile(r"""\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)""")
_OUTSIDE_LITERAL = re.compile(r"""["'`(]\s*(?:[a-z][a-z0-9+.-]*:)?//[^/\s"'`]""", re.I)


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    async with plain_backend() as opened:
        yield opened


@asynccontextmanager
async def client(
    backend: Backend, *, console: Path | None = ASSETS, token: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_backend_app(backend, console=console, token=token)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield http


def directives(policy: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in found, policy
        found[name] = values
    return found


def assert_strict_headers(response: httpx.Response) -> None:
    for name, value in STRICT_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)
    policy = response.headers["content-security-policy"]
    assert "unsafe-" not in policy
    found = directives(policy)
    assert found["default-src"] == ["'none'"]
    assert found["script-src"] == ["'self'"]
    assert found["style-src"] == ["'self'"]
    assert found["connect-src"] == ["'self'"]
    assert found["frame-ancestors"] == ["'none'"]


def static_files() -> Iterator[Path]:
    for folder, _, names in os.walk(ASSETS):
        for name in sorted(names):
            yield Path(folder, name)


def url_of(path: Path) -> str:
    return "/assets/" + path.relative_to(ASSETS).as_posix()


def resolved(base: str, reference: str) -> str:
    """The path ``reference`` names from the file served at ``base``, '..' and '.' resolved."""
    if not reference.startswith("/"):
        reference = str(PurePosixPath(base).parent / reference)
    parts: list[str] = []
    for part in reference.split("/"):
        if part == "..":
            assert parts, reference
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def file_at(url: str) -> Path:
    assert url.startswith("/assets/"), url
    return ASSETS / url.removeprefix("/assets/")


class PageRefs(HTMLParser):
    """What the page loads (``src`` and ``<link href>``) and where its links go."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "src" in values:
            self.loads.append(values["src"])
        if "href" in values:
            (self.loads if tag == "link" else self.links).append(values["href"])
        assert "style" not in values, (tag, values)
        assert not any(name.startswith("on") for name in values), (tag, values)
        if tag == "script":
            assert values.get("type") == "module", values


def page_refs() -> PageRefs:
    refs = PageRefs()
    refs.feed((ASSETS / "index.html").read_text(encoding="utf-8"))
    refs.close()
    return refs


def imports(path: Path, pattern: re.Pattern[str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [next(group for group in found.groups() if group) for found in pattern.finditer(text)]


# -- the page and its files ---------------------------------------------------------------


async def test_the_page_is_served_at_the_root_with_strict_headers(backend: Backend) -> None:
    async with client(backend) as http:
        response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == (ASSETS / "index.html").read_text(encoding="utf-8")
    assert_strict_headers(response)
    assert response.headers["x-frame-options"] == "DENY"


async def test_the_shell_script_is_javascript_with_the_same_headers(backend: Backend) -> None:
    async with client(backend) as http:
        response = await http.get("/assets/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JAVASCRIPT)
    assert response.content == (ASSETS / "app.js").read_bytes()
    assert_strict_headers(response)


async def test_everything_the_page_loads_is_served(backend: Backend) -> None:
    refs = page_refs()
    local = [ref for ref in refs.loads if not ref.startswith("data:")]
    assert "/assets/app.js" in local
    assert any(ref.endswith(".css") for ref in local)
    assert all(link.startswith("#") for link in refs.links), refs.links
    async with client(backend) as http:
        for ref in local:
            assert ref.startswith("/assets/"), ref
            response = await http.get(ref)
            assert response.status_code == 200, ref
            assert response.content == file_at(ref).read_bytes(), ref
            kinds = CONTENT_TYPES[file_at(ref).suffix]
            assert response.headers["content-type"].startswith(kinds), ref
            assert_strict_headers(response)


def test_every_static_import_names_a_module_that_exists() -> None:
    modules = [path for path in static_files() if path.suffix == ".js"]
    assert ASSETS / "app.js" in modules
    checked = 0
    for module in modules:
        for specifier in imports(module, _STATIC_IMPORT):
            assert specifier.startswith(("./", "../", "/assets/")), (module, specifier)
            target = file_at(resolved(url_of(module), specifier))
            assert target.is_file(), f"{url_of(module)} imports {specifier}: no such file"
            checked += 1
    assert checked > 0


def test_every_dynamic_import_names_a_module_that_exists() -> None:
    """A view module the router loads on demand: missing, its route fails only when opened."""
    missing = [
        f"{url_of(module)} imports {specifier}"
        for module in static_files()
        if module.suffix == ".js"
        for specifier in imports(module, _DYNAMIC_IMPORT)
        if not file_at(resolved(url_of(module), specifier)).is_file()
    ]
    assert missing == []


def test_every_stylesheet_reference_exists() -> None:
    for sheet in (path for path in static_files() if path.suffix == ".css"):
        for ref in imports(sheet, _CSS_REF):
            if ref.startswith("data:"):
                continue
            assert file_at(resolved(url_of(sheet), ref)).is_file(), (sheet, ref)


@pytest.mark.parametrize("path", list(static_files()), ids=lambda p: url_of(p))
def test_no_console_file_points_at_another_origin(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    references = [
        *(_HTML_REF.findall(text) if path.suffix == ".html" else ()),
        *(ref for ref in imports(path, _CSS_REF) if path.suffix == ".css"),
        *(imports(path, _STATIC_IMPORT) if path.suffix == ".js" else ()),
        *(imports(path, _DYNAMIC_IMPORT) if path.suffix == ".js" else ()),
    ]
    for ref in references:
        scheme = re.match(r"([a-z][a-z0-9+.-]*):", ref, re.I)
        assert scheme is None or scheme.group(1).lower() == "data", ref
        assert not ref.startswith(("//", "\\\\")), ref
    assert _OUTSIDE_LITERAL.findall(text) == []


# -- what the console folder must not give away -------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the console folder, with a secret next to it and links leading out of it."""
    (tmp_path / "secret.txt").write_text(SECRET, encoding="utf-8")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.txt").write_text(SECRET, encoding="utf-8")
    folder = tmp_path / "static"
    shutil.copytree(ASSETS, folder)
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "css" / "leak.css").symlink_to(Path("..", "..", "secret.txt"))
    (folder / "outside").symlink_to(tmp_path / "private", target_is_directory=True)
    return folder


async def test_symbolic_links_out_of_the_console_folder_are_not_followed(
    backend: Backend, site: Path
) -> None:
    async with client(backend, console=site) as http:
        assert (await http.get("/assets/app.js")).content == (site / "app.js").read_bytes()
        for path in ("/assets/leak.txt", "/assets/css/leak.css", "/assets/outside/secret.txt"):
            response = await http.get(path)
            assert error_of(response, 404)["code"] == "not_found", path
            assert SECRET not in response.text
            assert_strict_headers(response)


@pytest.mark.parametrize(
    "path",
    [
        "/assets/%2e%2e/secret.txt",
        "/assets/%2E%2E/secret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/%2e%2e%2fsecret.txt",
        "/assets/css/%2e%2e/%2e%2e/secret.txt",
        "/assets/css/..%2f..%2fsecret.txt",
        "/assets/../secret.txt",
        "/assets/%2fsecret.txt",
        "/assets/..%5csecret.txt",
    ],
)
async def test_a_path_that_climbs_out_of_the_console_folder_is_refused(
    backend: Backend, site: Path, path: str
) -> None:
    async with client(backend, console=site) as http:
        inside = await http.get("/assets/css/%2e%2e/app.js")  # the same trick, staying inside
        response = await http.get(path)
    assert inside.status_code == 200
    assert error_of(response, 404)["code"] == "not_found"
    assert SECRET not in response.text
    assert_strict_headers(response)


async def test_the_packaged_console_gives_no_file_of_the_project(backend: Backend) -> None:
    climbs = ["%2e%2e/" * depth + "pyproject.toml" for depth in range(1, 6)]
    async with client(backend) as http:
        for climb in ["../pyproject.toml", *climbs, "%2e%2e/__init__.py"]:
            response = await http.get(f"/assets/{climb}")
            assert error_of(response, 404)["code"] == "not_found", climb
            assert "[project]" not in response.text
            assert "ASSETS" not in response.text


# -- the API beside the console -----------------------------------------------------------


async def test_api_errors_keep_the_envelope_and_get_the_headers(backend: Backend) -> None:
    async with client(backend) as http:
        unknown = await http.get("/api/no-such-route")
        no_asset = await http.get("/assets/no-such-file.js")
        form = await http.post("/api/companion/messages", content=b"content=hi")
    assert error_of(unknown, 404)["code"] == "not_found"
    assert error_of(no_asset, 404)["code"] == "not_found"
    assert error_of(form, 415)["code"] == "unsupported_media_type"
    for response in (unknown, no_asset, form):
        assert_strict_headers(response)


async def test_without_a_console_the_root_is_a_json_404(backend: Backend) -> None:
    async with client(backend, console=None) as http:
        page = await http.get("/")
        script = await http.get("/assets/app.js")
        workspace = await http.get("/api/workspace")
    assert error_of(page, 404)["code"] == "not_found"
    assert error_of(script, 404)["code"] == "not_found"
    assert workspace.status_code == 200
    assert_strict_headers(page)


async def test_with_a_token_the_console_loads_without_it_and_the_api_needs_it(
    backend: Backend,
) -> None:
    async with client(backend, token=TOKEN) as http:
        page = await http.get("/")
        script = await http.get("/assets/app.js")
        refused = await http.get("/api/workspace")
        allowed = await http.get("/api/workspace", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (page.status_code, script.status_code) == (200, 200)
    assert error_of(refused, 401)["code"] == "unauthorized"
    assert_strict_headers(refused)
    assert allowed.status_code == 200
    workspace = allowed.json()["workspace"]
    assert [p["name"] for p in workspace["profiles"]] == [p.name for p in BUILTIN_BUNDLE.profiles]
    assert all(set(p) == {"name", "description", "tools"} for p in workspace["profiles"])


async def test_without_a_token_the_page_answers_only_a_loopback_name(backend: Backend) -> None:
    async with client(backend) as http:
        rebound = await http.get("/", headers={"Host": "evil.example"})
        cross_site = await http.get("/assets/app.js", headers={"Origin": "https://evil.example"})
    assert error_of(rebound, 403)["code"] == "forbidden_host"
    assert error_of(cross_site, 403)["code"] == "forbidden_origin"
    assert SECRET not in rebound.text
    assert_strict_headers(rebound)
