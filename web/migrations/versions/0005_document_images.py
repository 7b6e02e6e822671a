"""Document images: which documents hold which uploaded images (served only through them).

Existing documents are read once to note the images they already show, so that their readers
keep seeing them: an image at a page's own address (`/espaces/…/pages/{id}/images/…`, only
ever given for an upload through that page) in that page's text or versions, and an image at
the old shared address (`/fichiers/images/…`, which served anyone) in any document. An image
copied from another page before this change is not noted here: it is brought over the first
time an editor who can see it opens the page (see web/pages/image_access.py).

Revision ID: 0005i
Revises: 0004v
Create Date: 2026-12-02
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from pycrdt import Doc, XmlElement, XmlFragment

revision: str = "0005i"
down_revision: str | Sequence[str] | None = "0004v"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = r"([0-9a-f]{64}\.(?:png|jpg|gif|webp))"
_PAGE_ADDRESS = re.compile(r"^/espaces/[^/]+/pages/(\d+)/images/" + _NAME + "$")
_SHARED_ADDRESS = re.compile(r"^/fichiers/images/" + _NAME + "$")


def _image_sources(parts: list[bytes]) -> Iterator[str]:
    """The `src` of every image node of a TipTap document given as Yjs updates."""
    doc: Doc[Any] = Doc()
    try:
        for part in parts:
            if part:
                doc.apply_update(part)
        stack: list[XmlFragment | XmlElement] = [doc.get("default", type=XmlFragment)]
    except Exception:  # unreadable bytes: nothing to note (pycrdt raises bare exceptions)
        return
    while stack:
        for child in stack.pop().children:
            if isinstance(child, XmlElement):
                if child.tag == "image":
                    src = child.attributes.get("src")
                    if isinstance(src, str):
                        yield src
                stack.append(child)


def _held(sources: Iterator[str], page_id: int | None) -> set[str]:
    names = set()
    for src in sources:
        shared = _SHARED_ADDRESS.match(src)
        own = _PAGE_ADDRESS.match(src)
        if shared:
            names.add(shared.group(1))
        elif own and page_id is not None and int(own.group(1)) == page_id:
            names.add(own.group(2))
    return names


def upgrade() -> None:
    table = op.create_table(
        "document_images",
        sa.Column("doc_name", sa.String(512), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("doc_name", "name", name=op.f("pk_document_images")),
    )
    bind = op.get_bind()
    page_rows = bind.execute(sa.text("SELECT id, doc_name FROM pages"))
    page_of = {row.doc_name: row.id for row in page_rows}
    names = {
        row.name
        for query in ("SELECT name FROM documents", "SELECT DISTINCT name FROM document_updates")
        for row in bind.execute(sa.text(query))
    }
    held: dict[str, set[str]] = {}
    for doc_name in sorted(names):
        snapshot = bind.execute(
            sa.text("SELECT snapshot FROM documents WHERE name = :n"), {"n": doc_name}
        ).scalar()
        updates = bind.execute(
            sa.text("SELECT data FROM document_updates WHERE name = :n ORDER BY id"),
            {"n": doc_name},
        ).scalars()
        parts = [bytes(snapshot or b""), *(bytes(u) for u in updates)]
        held.setdefault(doc_name, set()).update(_held(_image_sources(parts), page_of.get(doc_name)))
    versions = bind.execute(
        sa.text(
            "SELECT pages.id, pages.doc_name, page_versions.state FROM page_versions"
            " JOIN pages ON pages.id = page_versions.page_id"
        )
    )
    for row in versions:
        held.setdefault(row.doc_name, set()).update(
            _held(_image_sources([bytes(row.state)]), row.id)
        )
    rows = [{"doc_name": doc, "name": name} for doc, found in held.items() for name in found]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("document_images")
