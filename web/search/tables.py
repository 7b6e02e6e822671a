"""The search index: one row of text per page (migration 0004t creates it)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, Text, func

from web.schema import metadata

# `title` and `body` as written, for snippets; `folded` is both, lower case without
# accents, what queries match against (see web/search/text.py and docs/editor.md).
page_text = Table(
    "page_text",
    metadata,
    Column("page_id", Integer, ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("folded", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
