"""Ticket Markdown as HTML a browser can show without running anything a ticket holds.

CommonMark (with tables and strikethrough) through markdown-it-py, with the
renderer closed down to text and structure:

- raw HTML in the source is escaped, never passed through (``<script>`` shows
  as text);
- a link keeps its target only for ``http``, ``https`` and ``mailto``, or a
  target with no scheme (``#section``, ``docs/a.md``); ``javascript:``,
  ``data:``, ``vbscript:`` and every other scheme leave the text unlinked;
- an image becomes a link to it, so a ticket cannot make the browser fetch
  anything by being opened (inside a link, its label alone, so the link
  keeps the target its author wrote);
- a table column's alignment becomes a class (``align-left``, ...), since
  the console's policy allows no inline style;
- every link opens in a new tab with no referrer and no access to this page.

The console's Content-Security-Policy forbids inline scripts as well, so a
mistake here would still not run a script.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["SAFE_SCHEMES", "is_safe_link", "render_markdown", "render_replies"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_ATTRS = {"rel": "noopener noreferrer nofollow", "target": "_blank"}


def render_markdown(text: str) -> str:
    """The HTML of ``text``; safe to place in a page as it is."""
    html: str = _parser().render(text)
    return html


def render_replies(page: dict[str, object]) -> dict[str, object]:
    """A transcript page whose assistant entries carry their Markdown as safe HTML (``html``).

    What people and tools said stays text: only a model's replies are Markdown.
    """
    items = page.get("items")
    if not isinstance(items, list):
        return page
    for item in items:
        if isinstance(item, dict) and item.get("role") == "assistant":
            item["html"] = render_markdown(str(item.get("content", "")))
    return page


def is_safe_link(url: str) -> bool:
    """Whether a link to ``url`` may be followed: a safe scheme, or none at all."""
    stripped = "".join(url.split()).lower()
    try:
        scheme = urlsplit(stripped).scheme
    except ValueError:
        return False
    if not scheme:
        return ":" not in stripped.split("/", 1)[0]
    return scheme in SAFE_SCHEMES


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.validateLink = is_safe_link  # type: ignore[method-assign]
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("image", _image)
    parser.add_render_rule("th_open", _cell_open)
    parser.add_render_rule("td_open", _cell_open)
    return parser


def _cell_open(
    self: Any, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    style = str(token.attrGet("style") or "")
    if style.startswith("text-align:"):
        token.attrs.pop("style", None)
        token.attrSet("class", "align-" + style.removeprefix("text-align:").strip())
    rendered: str = self.renderToken(tokens, index, options, env)
    return rendered


def _link_open(
    self: Any, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    for name, value in _LINK_ATTRS.items():
        token.attrSet(name, value)
    rendered: str = self.renderToken(tokens, index, options, env)
    return rendered


def _image(
    self: Any, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType
) -> str:
    token = tokens[index]
    source = str(token.attrGet("src") or "")
    label = self.renderInlineAsText(token.children or [], options, env) or source
    if _inside_link(tokens, index):
        return _escape(f"image: {label}")
    link = Token("link_open", "a", 1, attrs={"href": source, **_LINK_ATTRS})
    opened: str = self.renderToken([link], 0, options, env)
    return f"{opened}{_escape(f'image: {label}')}</a>"


def _inside_link(tokens: Sequence[Token], index: int) -> bool:
    depth = 0
    for token in tokens[:index]:
        if token.type == "link_open":
            depth += 1
        elif token.type == "link_close":
            depth -= 1
    return depth > 0


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
