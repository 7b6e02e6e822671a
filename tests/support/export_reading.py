"""Read exports as their readers would: a CommonMark renderer for Markdown, a browser for HTML.

Tests use these to see what a person opening an export gets: which addresses its links and
images lead to, which raw HTML a Markdown renderer would pass through, which tags and
attributes a browser would find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# Attributes whose value a browser follows or loads.
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "poster", "srcset", "data"})


def url_is_safe(url: str) -> bool:
    """Whether a browser would read `url` as web, mail or a path on this site.

    Browsers trim controls and spaces at the ends and drop tabs and newlines anywhere before
    reading the scheme, and read a backslash as a slash (WHATWG URL standard).
    """
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", cleaned)
    if scheme is None:
        return not cleaned.replace("\\", "/").startswith("//")
    return scheme.group(1).lower() in SAFE_SCHEMES


@dataclass(frozen=True)
class MarkdownReading:
    """What a CommonMark (+ GFM tables) renderer makes of a Markdown file."""

    destinations: list[str]  # of links and images, after the renderer decoded them
    titles: list[str]
    raw_html: list[str]  # inline and block HTML passed through as is
    fences: list[tuple[str, str]]  # (info string, code) of each fenced code block


class _EveryLink(MarkdownIt):
    """A renderer that keeps every link, so that a javascript: one is seen, not dropped."""

    def validateLink(self, url: str) -> bool:
        return True


def read_markdown(text: str) -> MarkdownReading:
    md = _EveryLink("commonmark").enable(["table", "strikethrough"])
    reading = MarkdownReading([], [], [], [])

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            if token.type in ("link_open", "image"):
                address = token.attrs.get("href", token.attrs.get("src", ""))
                reading.destinations.append(str(address))
                if "title" in token.attrs:
                    reading.titles.append(str(token.attrs["title"]))
            elif token.type in ("html_inline", "html_block"):
                reading.raw_html.append(token.content)
            elif token.type == "fence":
                reading.fences.append((token.info, token.content))
            if token.children:
                walk(token.children)

    walk(md.parse(text))
    return reading


@dataclass(frozen=True)
class Element:
    tag: str
    attrs: dict[str, str]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))


def html_elements(html: str) -> list[Element]:
    """Every start tag a browser would see, with its attributes (entities decoded)."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.elements


def html_problems(html: str, allowed_tags: frozenset[str]) -> list[str]:
    """Tags outside `allowed_tags`, event handler attributes and unsafe addresses."""
    found: list[str] = []
    for element in html_elements(html):
        if element.tag not in allowed_tags:
            found.append(f"tag <{element.tag}>")
        for name, value in element.attrs.items():
            if name.startswith("on"):
                found.append(f"handler {name}= on <{element.tag}>")
            elif name in URL_ATTRIBUTES and not url_is_safe(value):
                found.append(f"{name}={value!r} on <{element.tag}>")
    return found


# The tags the HTML export writes (see `web.pages.export`).
EXPORT_TAGS = frozenset(
    {"html", "head", "meta", "title", "body", "h1", "h2", "h3", "h4", "h5", "h6", "p", "br"}
    | {"strong", "em", "s", "u", "code", "pre", "blockquote", "ul", "ol", "li", "a", "img"}
    | {"table", "tbody", "tr", "th", "td", "hr", "input"}
)


def version_content(page: str) -> str:
    """The version's own content in a version page (inside its <article>)."""
    match = re.search(r'<article class="version-content"[^>]*>(.*?)</article>', page, re.S)
    assert match, page[:500]
    return match.group(1)
