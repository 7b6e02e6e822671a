"""Version history of pages: automatic and named snapshots, reading one, restoring one.

A version is the whole Yjs state of the page's document at a moment. Automatic versions are
taken when a page changed since its last version and that one is older than
`ATELIER_VERSION_INTERVAL_MINUTES`. A restore never rewinds: it saves the current state as a
named version "Avant restauration", then applies a new change that brings the old text back,
which every open editor receives live (see `realtime.versions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import nh3
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from realtime.extract import ExtractError, document_blocks
from realtime.rooms import DocumentRooms
from realtime.store import DocumentStore
from realtime.versions import VersionError, restore_update, validate_state
from web.i18n import N_
from web.pages.export import to_html_fragment
from web.schema import metadata, users
from web.spaces.access import aware, utcnow
from web.spaces.tables import pages

log = logging.getLogger("atelier.versions")

MAX_NAME = 200
BEFORE_RESTORE = N_("Avant restauration")
CHECK_SECONDS = 60.0

page_versions = Table(
    "page_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("page_id", Integer, ForeignKey("pages.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(MAX_NAME), nullable=True),
    Column("automatic", Boolean, nullable=False, server_default="0"),
    Column("state", LargeBinary, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_page_versions_page_id", "page_id", "created_at"),
)

# What a version page may show: the tags and attributes the HTML export produces.
_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "strong", "em", "s", "u", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    "hr", "input", "label", "span", "div",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width"},
    "input": {"type", "checked", "disabled", "aria-label", "aria-hidden"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "li": {"class"},
    "ul": {"class"},
    "code": {"class"},
}


class VersionNotFound(Exception):
    """No such version of this page."""


class VersionUnreadable(Exception):
    """The version's bytes cannot be read as a document: it cannot be restored."""


@dataclass(frozen=True)
class PageVersion:
    """One version in the history (without its bytes)."""

    id: int
    page_id: int
    name: str | None
    automatic: bool
    author: str | None
    created_at: datetime


async def save_version(
    engine: AsyncEngine,
    page_id: int,
    state: bytes,
    *,
    name: str | None = None,
    automatic: bool = False,
    created_by: int | None = None,
    now: datetime | None = None,
) -> int:
    """Store a version of a page; its id."""
    cleaned = (name or "").strip()[:MAX_NAME] or None
    async with engine.begin() as conn:
        version_id = (
            await conn.execute(
                insert(page_versions)
                .values(
                    page_id=page_id,
                    name=cleaned,
                    automatic=automatic,
                    state=state,
                    created_by=created_by,
                    created_at=now or utcnow(),
                )
                .returning(page_versions.c.id)
            )
        ).scalar_one()
    return int(version_id)


async def list_versions(engine: AsyncEngine, page_id: int) -> list[PageVersion]:
    """A page's versions, newest first."""
    query = (
        select(
            page_versions.c.id,
            page_versions.c.page_id,
            page_versions.c.name,
            page_versions.c.automatic,
            users.c.display_name,
            page_versions.c.created_at,
        )
        .select_from(page_versions.outerjoin(users, users.c.id == page_versions.c.created_by))
        .where(page_versions.c.page_id == page_id)
        .order_by(page_versions.c.created_at.desc(), page_versions.c.id.desc())
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        PageVersion(r.id, r.page_id, r.name, bool(r.automatic), r.display_name, aware(r.created_at))
        for r in rows
    ]


async def get_version(
    engine: AsyncEngine, page_id: int, version_id: int
) -> tuple[PageVersion, bytes]:
    """One version of a page and its state; VersionNotFound if it is not this page's."""
    for version in await list_versions(engine, page_id):
        if version.id == version_id:
            async with engine.connect() as conn:
                state = (
                    await conn.execute(
                        select(page_versions.c.state).where(page_versions.c.id == version_id)
                    )
                ).scalar_one()
            return version, bytes(state)
    raise VersionNotFound(version_id)


async def current_state(rooms: DocumentRooms, store: DocumentStore, doc_name: str) -> bytes:
    """The document now: from memory when it is open here, else from the store."""
    state = rooms.document_state(doc_name)
    if state is None:
        await store.flush()
        state = await store.load(doc_name)
    return state


def version_html(state: bytes) -> str | None:
    """A version's content as sanitised HTML, for reading; None when it cannot be read.

    The exporter reads every attribute with a fallback, so any document that the extractor
    reads renders; only bytes that are not a document, or one nested past
    `realtime.extract.MAX_DEPTH`, give None (the version page then says so).
    """
    try:
        fragment = to_html_fragment(document_blocks(state))
    except ExtractError:
        return None
    return nh3.clean(fragment, tags=_TAGS, attributes=_ATTRIBUTES, link_rel="noopener")


async def restore_version(
    engine: AsyncEngine,
    rooms: DocumentRooms,
    store: DocumentStore,
    *,
    page_id: int,
    doc_name: str,
    version_id: int,
    user_id: int | None,
    before_name: str = BEFORE_RESTORE,
) -> None:
    """Bring a version's text back as a new live change, after saving the current state."""
    _version, old = await get_version(engine, page_id, version_id)
    try:
        validate_state(old)
    except VersionError as exc:
        raise VersionUnreadable(str(exc)) from None
    await save_version(
        engine,
        page_id,
        await current_state(rooms, store, doc_name),
        name=before_name,
        created_by=user_id,
    )
    try:
        await rooms.apply_server_change(doc_name, lambda current: restore_update(current, old))
    except VersionError as exc:
        raise VersionUnreadable(str(exc)) from None


async def snapshot_changed(
    engine: AsyncEngine,
    rooms: DocumentRooms,
    store: DocumentStore,
    doc_names: set[str],
    *,
    interval: timedelta,
    now: datetime | None = None,
) -> set[str]:
    """Take automatic versions of changed documents that are due; the ones not due yet."""
    now = now or utcnow()
    waiting: set[str] = set()
    for doc_name in sorted(doc_names):
        async with engine.connect() as conn:
            page_id = (
                await conn.execute(select(pages.c.id).where(pages.c.doc_name == doc_name))
            ).scalar()
            if page_id is None:
                continue  # not a page (a `/d/` document): no history
            last = (
                await conn.execute(
                    select(func.max(page_versions.c.created_at)).where(
                        page_versions.c.page_id == page_id
                    )
                )
            ).scalar()
        if last is not None and now - aware(last) < interval:
            waiting.add(doc_name)
            continue
        state = await current_state(rooms, store, doc_name)
        await save_version(engine, int(page_id), state, automatic=True, now=now)
    return waiting


class VersionKeeper:
    """The background task that takes automatic versions of pages edited on this worker."""

    def __init__(
        self,
        engine: AsyncEngine,
        rooms: DocumentRooms,
        store: DocumentStore,
        *,
        interval_minutes: int,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self._engine = engine
        self._rooms = rooms
        self._store = store
        self._interval = timedelta(minutes=interval_minutes)
        self._check_seconds = check_seconds
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> None:
        """One pass: version the pages that changed and are due."""
        self._pending |= self._rooms.take_changed()
        self._pending = await snapshot_changed(
            self._engine, self._rooms, self._store, self._pending, interval=self._interval
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._check_seconds)
            try:
                await self.check()
            except Exception:  # the database may be away for a while; try again later
                log.warning("automatic versions failed", exc_info=True)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="page-versions")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
