"""Comment content, sans I/O: sanitising rich text (nh3), the mentions it holds, anchors,
excerpts and limits. Nothing here touches the database or the network.

A comment's HTML may hold paragraphs, line breaks, bold, italic, code, links and mentions;
a mention is `<span data-type="mention" data-id="12">@Alice</span>` (a person's id) or with
`data-id` one of the group names of `GROUPS` (the whole space, or one of its roles).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3

COMMENT_TAGS = {"p", "br", "strong", "b", "em", "i", "code", "a", "span"}
COMMENT_ATTRIBUTES = {"a": {"href", "title"}, "span": {"data-type", "data-id", "data-label"}}
URL_SCHEMES = {"http", "https", "mailto"}
# The group mentions: "espace" is every member of the space; the others one role's members.
GROUPS = {
    "espace": None,
    "proprietaires": "owner",
    "admins": "admin",
    "editeurs": "editor",
    "commentateurs": "commenter",
    "lecteurs": "reader",
}
MENTION_ID = re.compile(r"\A(?:[1-9][0-9]{0,9}|" + "|".join(GROUPS) + r")\Z")
MAX_ANCHOR_CHARS = 4096
MAX_QUOTE_CHARS = 500
EXCERPT_CHARS = 280
# Reactions on comments: a small fixed set.
EMOJIS = ("👍", "❤️", "🎉", "😄", "😕", "👀")


class ContentError(ValueError):
    """Content we cannot store; the message is the French text for the person."""


def _keep_attribute(tag: str, name: str, value: str) -> str | None:
    if tag != "span":
        return value
    if name == "data-type":
        return value if value == "mention" else None
    if name == "data-id":
        return value if MENTION_ID.match(value) else None
    return value[:200]


def sanitise(text: str) -> str:
    """The comment's HTML with only what a comment may hold (scripts, styles, events go)."""
    return nh3.clean(
        text,
        tags=COMMENT_TAGS,
        attributes=COMMENT_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_keep_attribute,
    ).strip()


def plain_text(sanitised: str) -> str:
    """The words of a comment, without tags, on one line."""
    return " ".join(html.unescape(nh3.clean(sanitised.replace("<", " <"), tags=set())).split())


def excerpt(sanitised: str, limit: int = EXCERPT_CHARS) -> str:
    text = plain_text(sanitised)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Mentions:
    """Who a text mentions: people by id, and groups by name (see GROUPS), in order."""

    people: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.people) + len(self.groups)


class _MentionFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "span" and values.get("data-type") == "mention":
            ident = values.get("data-id") or ""
            if MENTION_ID.match(ident):
                self.ids.append(ident)


def mention_ids(ids: list[str]) -> Mentions:
    """Mentions from `data-id` values (people's ids, group names), each once, in order."""
    people: list[int] = []
    groups: list[str] = []
    for ident in ids:
        if ident.isdigit():
            if int(ident) not in people:
                people.append(int(ident))
        elif ident in GROUPS and ident not in groups:
            groups.append(ident)
    return Mentions(tuple(people), tuple(groups))


def mentions_in(sanitised: str) -> Mentions:
    """The mentions of a (sanitised) comment."""
    finder = _MentionFinder()
    finder.feed(sanitised)
    finder.close()
    return mention_ids(finder.ids)


def comment_body(value: object, max_chars: int) -> str:
    """A comment's sanitised HTML, or ContentError (empty, too long, not text)."""
    if not isinstance(value, str):
        raise ContentError("Le commentaire doit être du texte.")
    if len(value) > max_chars:
        raise ContentError("Commentaire trop long.")
    clean = sanitise(value)
    if not plain_text(clean) and not mentions_in(clean):
        raise ContentError("Le commentaire est vide.")
    return clean


def anchor(value: object) -> str | None:
    """A text anchor as the client made it (JSON of base64 Yjs relative positions), kept
    as given; None for no anchor."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ANCHOR_CHARS:
        raise ContentError("Ancre invalide.")
    if not value.isascii() or not value.isprintable():
        raise ContentError("Ancre invalide.")
    return value


def quote(value: object) -> str:
    """The anchored text, as the thread list shows it (one line, cut)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ContentError("Citation invalide.")
    return " ".join(value.split())[:MAX_QUOTE_CHARS]


def mentions_in_blocks(ids: list[str]) -> Mentions:
    """Mentions of a page's document (the `id` attributes of its mention nodes)."""
    return mention_ids([i for i in ids if MENTION_ID.match(i)])
