"""What the page view needs to render the editor: document, role, the user's caret, texts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

# Caret colours: each has at least 4.5:1 contrast with the white label text on it.
CARET_COLOURS = (
    "#1e5bb8",  # blue
    "#a3195b",  # raspberry
    "#0b6e4f",  # green
    "#8a4b00",  # brown
    "#6b3fa0",  # violet
    "#b3261e",  # red
    "#00676b",  # teal
    "#5c5c00",  # olive
)

WRITING_ROLES = frozenset({"owner", "admin", "editor"})
ROLES = frozenset({"owner", "admin", "editor", "commenter", "reader"})


def caret_colour(seed: str) -> str:
    """A stable colour for a user, so they keep it across visits and devices."""
    digest = hashlib.sha256(seed.encode()).digest()
    return CARET_COLOURS[digest[0] % len(CARET_COLOURS)]


@dataclass(frozen=True)
class PageLink:
    """Another page of the space, offered in the link dialog."""

    title: str
    url: str


@dataclass(frozen=True)
class Crumb:
    title: str
    url: str


@dataclass(frozen=True)
class EditorPage:
    """Everything the editor template shows."""

    title: str
    doc: str
    role: str
    user_name: str
    user_colour: str
    # Names this person's copy in the browser's IndexedDB (people may share a browser).
    store_key: str = ""
    upload_url: str = ""
    # Where the page's images are fetched from: the editor shows every uploaded image it
    # holds through this address, so that access is checked through the page being read.
    image_base: str = ""
    export_markdown_url: str = ""
    export_html_url: str = ""
    history_url: str = ""
    # The "Partager" dialog's page (members of the space; not a guest's link, not a token).
    share_url: str = ""
    breadcrumbs: tuple[Crumb, ...] = ()
    page_links: tuple[PageLink, ...] = field(default_factory=tuple)
    # The space's pages beside the page (roots of `web.spaces.tree.PageNode`), for those who
    # may read the whole space; `space_url` is its address, `page_id` this page's.
    tree: tuple[Any, ...] = ()
    space_url: str = ""
    page_id: int = 0
    # Where the title is changed in place (a heading one can edit), when the role allows it.
    rename_url: str = ""
    # The page's id for the social layer (comments, recommend; docs/social.md); 0: a document
    # opened by token, which has none.
    item_id: int = 0

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def writable(self) -> bool:
        return self.role in WRITING_ROLES

    @property
    def can_comment(self) -> bool:
        """Commenters and up comment, react and recommend; readers only see."""
        return self.role != "reader"
