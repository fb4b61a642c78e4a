"""Ticket Markdown as HTML: hostile input renders inert, ordinary Markdown renders as expected.

Every rendering of the hostile corpus is parsed with :mod:`html.parser`, as a
browser would take it apart, and each tag and attribute is checked: no
script, no event handler, no style, no link to a scheme that runs or embeds
anything, no ``src`` at all. Then the tickets API: ``?render=html`` carries
the HTML of the body, of every event and of the resolution.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.backend.rig import plain_backend
from tests.server.asgi import error_of

from yoi.backend import create_backend_app
from yoi.backend.markdown import is_safe_link, render_markdown
from yoi.tickets import TicketStore

LINK_ATTRS = {"rel": "noopener noreferrer nofollow", "target": "_blank"}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRS = {"a": {"href", "title", "rel", "target"}, "code": {"class"}}
_C0_OR_SPACE = "".join(chr(code) for code in range(0x21))
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")

UNSAFE_LINKS = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](jav&#x0A;ascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](\x01javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    '[click](javascript:alert(1) "title")',
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](data:image/svg+xml,<svg onload=alert(1)>)",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    "[click][evil]\n\n[evil]: javascript:alert(1)",
    '[click][evil]\n\n[evil]: <javascript:alert(1)> "t"',
    "![pic](javascript:alert(1))",
    "![pic](data:image/png;base64,AAAA)",
    "![pic][evil]\n\n[evil]: javascript:alert(1)",
]
"""Links, autolinks, references and images whose target runs or embeds something."""

HOSTILE = [
    *UNSAFE_LINKS,
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    "<style>body { display: none }</style>",
    "<!-- hidden --><b>bold?</b>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="https://fine.example" onclick="alert(1)">click</a>',
    "[click][ok]\n\n[ok]: https://fine.example 't\" onclick=alert(1)'",
    '![x" onerror="alert(1)](https://fine.example/pic.png)',
    "![<img src=x onerror=alert(1)>](https://fine.example/pic.png)",
    '[t](https://fine.example/"onmouseover=alert(1))',
    "[<img src=x onerror=alert(1)>](https://fine.example)",
    '```x"onclick="alert(1) more\n<script>alert(1)</script>\n```',
    "`<script>alert(1)</script>`",
    "| <script>alert(1)</script> | [x](javascript:alert(1)) |\n|---|---|\n| <img onerror=x> | b |",
    "- <iframe src=x>\n- [y](vbscript:x)\n  > <svg onload=alert(1)>",
]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def scheme_of(url: str) -> str | None:
    """The scheme a browser reads in ``url`` (WHATWG: edges trimmed, tabs and newlines dropped)."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip(_C0_OR_SPACE))
    found = _SCHEME.match(cleaned)
    return None if found is None else found.group(1).lower()


def assert_inert(html: str) -> Tags:
    """``html`` holds nothing that runs, fetches or styles: only text, structure, safe links."""
    assert "<script" not in html.lower()
    tags = parsed(html)
    for tag, attrs in tags.tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_ATTRS.get(tag, set()), (tag, attrs, html)
        assert not any(name.startswith("on") for name in attrs), html
        if tag == "a":
            href = attrs.get("href")
            assert href is not None, html
            assert scheme_of(href) in (ALLOWED_SCHEMES | {None}), (href, html)
            assert {name: attrs.get(name) for name in LINK_ATTRS} == LINK_ATTRS, html
    return tags


# -- hostile Markdown ---------------------------------------------------------------------


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_inert(source: str) -> None:
    assert_inert(render_markdown(source))


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">click</a>',
        "<!-- hidden -->",
    ],
)
def test_raw_html_shows_as_the_text_it_is(source: str) -> None:
    tags = parsed(render_markdown(source))
    assert [tag for tag, _ in tags.tags] == ["p"]
    assert "".join(tags.text).strip() == source


@pytest.mark.parametrize("source", UNSAFE_LINKS)
def test_a_link_to_an_unsafe_target_is_no_link_at_all(source: str) -> None:
    tags = parsed(render_markdown(source))
    assert {tag for tag, _ in tags.tags} == {"p"}
    shown = "".join(tags.text)
    assert any(word in shown for word in ("click", "pic", "alert", "msgbox")), shown


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("[docs](https://example.com/a?b=1)", "https://example.com/a?b=1", "docs"),
        ("[plain](http://example.com)", "http://example.com", "plain"),
        ("[Mail](mailto:someone@example.com)", "mailto:someone@example.com", "Mail"),
        ("<https://example.com/x>", "https://example.com/x", "https://example.com/x"),
        ("<someone@example.com>", "mailto:someone@example.com", "someone@example.com"),
        ("[up](#section)", "#section", "up"),
        ("[file](docs/a.md)", "docs/a.md", "file"),
        ("[ref][r]\n\n[r]: https://example.com/r", "https://example.com/r", "ref"),
        (
            "![a diagram](https://example.com/d.png)",
            "https://example.com/d.png",
            "image: a diagram",
        ),
    ],
)
def test_safe_links_open_in_a_new_tab_without_referrer(source: str, href: str, text: str) -> None:
    tags = assert_inert(render_markdown(source))
    anchors = [attrs for tag, attrs in tags.tags if tag == "a"]
    assert anchors == [{"href": href, **LINK_ATTRS}]
    assert "".join(tags.text).strip() == text


def test_an_image_is_never_fetched_by_opening_the_ticket() -> None:
    html = render_markdown("![logo](https://example.com/logo.png)\n\n![x](/assets/app.js)")
    tags = assert_inert(html)
    assert "img" not in [tag for tag, _ in tags.tags]
    assert all("src" not in attrs for _, attrs in tags.tags)


def test_an_aligned_table_carries_no_inline_style() -> None:
    html = render_markdown("| Left | Right |\n|:--|--:|\n| a | b |")
    tags = parsed(html)
    assert [tag for tag, _ in tags.tags if tag in ("th", "td")] == ["th", "th", "td", "td"]
    assert all("style" not in attrs for _, attrs in tags.tags), html
    classes = [attrs.get("class") for tag, attrs in tags.tags if tag in ("th", "td")]
    assert classes == ["align-left", "align-right", "align-left", "align-right"]


def test_a_linked_image_keeps_the_link_its_author_wrote() -> None:
    html = render_markdown("[![build](https://ci.example/badge.svg)](https://ci.example/run)")
    tags = assert_inert(html)
    anchors = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
    assert anchors == ["https://ci.example/run"], html


# -- ordinary Markdown --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("# Title\n\n## Part", "<h1>Title</h1>\n<h2>Part</h2>\n"),
        (
            "- one\n- two\n  - nested",
            "<ul>\n<li>one</li>\n<li>two\n<ul>\n<li>nested</li>\n</ul>\n</li>\n</ul>\n",
        ),
        ("1. first\n2. second", "<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"),
        (
            '```python\nprint("<b>hi</b>")\n```',
            '<pre><code class="language-python">print(&quot;&lt;b&gt;hi&lt;/b&gt;&quot;)\n'
            "</code></pre>\n",
        ),
        ("Use `<b>` here", "<p>Use <code>&lt;b&gt;</code> here</p>\n"),
        (
            "| a | b |\n|---|---|\n| 1 | 2 |",
            "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
            "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n",
        ),
        ("~~gone~~ **bold** _it_", "<p><s>gone</s> <strong>bold</strong> <em>it</em></p>\n"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>\n"),
        ("x &amp; y < z", "<p>x &amp; y &lt; z</p>\n"),
        ("www.example.com is text", "<p>www.example.com is text</p>\n"),
        ("", ""),
    ],
)
def test_ordinary_markdown_renders_as_expected(source: str, expected: str) -> None:
    html = render_markdown(source)
    assert html == expected
    assert_inert(html)


# -- is_safe_link -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com", True),
        ("http://example.com/a?b#c", True),
        ("HTTPS://EXAMPLE.COM", True),
        ("mailto:someone@example.com", True),
        ("#section", True),
        ("docs/a.md", True),
        ("/absolute/path", True),
        ("./a:b", True),
        ("?q=1", True),
        ("", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("\x00javascript:alert(1)", False),
        ("\x01javascript:alert(1)", False),
        ("jav\u00a0ascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("DATA:image/png;base64,AA", False),
        ("vbscript:msgbox(1)", False),
        ("file:///etc/passwd", False),
        ("tel:123", False),
        ("a:b/c", False),
        ("%6Aavascript:alert(1)", False),
        ("java%09script:alert(1)", False),
    ],
)
def test_is_safe_link(url: str, safe: bool) -> None:
    assert is_safe_link(url) is safe


# -- the tickets API ----------------------------------------------------------------------

BODY = "## Goal\n\nShip it.\n\n<script>alert('body')</script>\n\n[bad](javascript:alert(1))"
COMMENT = (
    "Looks **fine**; see [the docs](https://example.com/docs).\n\n<img src=x onerror=alert(1)>"
)
RESOLUTION = "Done in `main`.\n\n- [x] <iframe src=x>"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = TicketStore.for_workspace(tmp_path / "workspace")
    store.init()
    backend = plain_backend(store)
    async with backend:
        transport = httpx.ASGITransport(app=create_backend_app(backend))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def created(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/tickets", json={"title": "Render me", "body": BODY})
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket"]["id"]
    return ticket_id


async def ticket(http: httpx.AsyncClient, ticket_id: str, **params: str) -> dict[str, Any]:
    response = await http.get(f"/api/tickets/{ticket_id}", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["ticket"]
    return found


async def test_render_html_adds_the_html_of_the_body_and_each_event(
    http: httpx.AsyncClient,
) -> None:
    ticket_id = await created(http)
    comment = await http.post(f"/api/tickets/{ticket_id}/comments", json={"body": COMMENT})
    assert comment.status_code == 201, comment.text
    plain = await ticket(http, ticket_id)
    assert "html" not in plain
    rendered = await ticket(http, ticket_id, render="html")
    html = rendered.pop("html")
    assert rendered == plain
    assert set(html) == {"body", "events", "resolution"}
    assert html["body"] == render_markdown(plain["body"])
    body = assert_inert(html["body"])
    assert ("h2", {}) in body.tags
    assert "<script>alert('body')</script>" in "".join(body.text)
    assert html["events"] == [render_markdown(event["body"]) for event in plain["events"]]
    assert len(html["events"]) == len(plain["events"]) >= 2
    last = assert_inert(html["events"][-1])
    assert ("a", {"href": "https://example.com/docs", **LINK_ATTRS}) in last.tags
    assert ("strong", {}) in last.tags
    assert html["resolution"] is None


async def test_render_html_renders_the_resolution_once_closed(http: httpx.AsyncClient) -> None:
    ticket_id = await created(http)
    closing = await http.post(f"/api/tickets/{ticket_id}/close", json={"resolution": RESOLUTION})
    assert closing.status_code == 200, closing.text
    rendered = await ticket(http, ticket_id, render="html")
    assert rendered["resolution"] is not None
    resolution = rendered["html"]["resolution"]
    assert resolution == render_markdown(rendered["resolution"])
    tags = assert_inert(resolution)
    assert ("code", {}) in tags.tags
    assert "<iframe src=x>" in "".join(tags.text)
    assert len(rendered["html"]["events"]) == len(rendered["events"])


@pytest.mark.parametrize("render", ["xml", "HTML", ""])
async def test_an_unknown_rendering_is_invalid_request(
    http: httpx.AsyncClient, render: str
) -> None:
    ticket_id = await created(http)
    response = await http.get(f"/api/tickets/{ticket_id}", params={"render": render})
    assert error_of(response, 400)["code"] == "invalid_request"
