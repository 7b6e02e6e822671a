"""Keep `page_text` in step with the pages: a background pass every `INDEX_INTERVAL` seconds.

A pass re-indexes: pages never indexed (all of them on first start), pages renamed since,
documents loaded in this worker whose state changed since the last pass, and documents
that were loaded at the last pass and are not any more (their last edits are in the store).
Trash and restore need no re-index: queries leave out trashed pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from realtime.extract import ExtractError, document_blocks
from realtime.rooms import DocumentRooms
from realtime.store import DocumentStore
from web.search.tables import page_text
from web.search.text import fold, plain_text
from web.spaces.access import utcnow
from web.spaces.tables import pages

log = logging.getLogger("atelier.search")

INDEX_INTERVAL = 30.0
# Pages indexed per pass at most, so a first start on a large instance spreads its work.
BATCH = 500


def _text_of(state: bytes, doc_name: str) -> str:
    try:
        return plain_text(document_blocks(state))
    except ExtractError as exc:
        log.warning("page document %s cannot be read for search: %s", doc_name, exc)
        return ""


class PageIndexer:
    """Writes each page's title and text to `page_text`; `refresh()` runs one pass."""

    def __init__(self, engine: AsyncEngine, store: DocumentStore, rooms: DocumentRooms) -> None:
        self._engine = engine
        self._store = store
        self._rooms = rooms
        # Revision of each loaded document when last indexed.
        self._indexed: dict[str, int] = {}

    async def refresh(self) -> int:
        """One pass (see the module); returns how many pages were indexed."""
        # Revisions, not document states: telling which documents changed costs nothing per
        # document, so a pass over thousands of open documents does not stall the sockets.
        loaded = set(self._rooms.loaded)
        changed: set[str] = set()
        for name in loaded:
            revision = self._rooms.document_revision(name)
            if revision is not None and self._indexed.get(name) != revision:
                changed.add(name)
        for name in set(self._indexed) - loaded:
            changed.add(name)  # unloaded since: read it from the store
            del self._indexed[name]

        query = (
            select(pages.c.id, pages.c.doc_name, pages.c.title)
            .select_from(pages.outerjoin(page_text, page_text.c.page_id == pages.c.id))
            .where(
                or_(
                    page_text.c.page_id.is_(None),
                    page_text.c.title != pages.c.title,
                    pages.c.doc_name.in_(list(changed)),
                )
            )
            .order_by(pages.c.id)
            .limit(BATCH)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        count = 0
        for row in rows:
            # Revision and state read together, with no await between them.
            revision = self._rooms.document_revision(row.doc_name)
            state = self._rooms.document_state(row.doc_name)
            if state is None:
                state = await self._store.load(row.doc_name)
            elif revision is not None:
                self._indexed[row.doc_name] = revision
            body = await asyncio.to_thread(_text_of, state, row.doc_name)
            await self.write(row.id, row.title, body)
            count += 1
        if len(rows) < BATCH:
            # Loaded documents that are no page (token documents): not worth a look next time.
            indexed = {row.doc_name for row in rows}
            for name in changed - indexed:
                revision = self._rooms.document_revision(name)
                if revision is not None:
                    self._indexed[name] = revision
        return count

    async def write(self, page_id: int, title: str, body: str) -> None:
        """Store one page's text (insert or replace)."""
        values = {
            "page_id": page_id,
            "title": title,
            "body": body,
            "folded": fold(title) + "\n" + fold(body),
            "updated_at": utcnow(),
        }
        async with self._engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(page_text).values(values)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[page_text.c.page_id],
                    set_={k: v for k, v in values.items() if k != "page_id"},
                )
            )

    async def run(self, interval: float = INDEX_INTERVAL) -> None:
        """Refresh forever, every `interval` seconds; a failing pass is logged and retried."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.warning("search indexing pass failed", exc_info=True)
            await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def search_indexing(app: Starlette) -> AsyncIterator[PageIndexer]:
    """Run the indexer in the background while the app serves (`app.state.search_indexer`)."""
    indexer = PageIndexer(app.state.engine, app.state.store, app.state.rooms)
    app.state.search_indexer = indexer
    task = asyncio.create_task(indexer.run(), name="search-indexer")
    try:
        yield indexer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
