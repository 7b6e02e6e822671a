"""Fixtures of the realtime tests: a document store on a fresh SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from realtime.store import DocumentStore
from web.database import create_engine, database_url, migrate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """A started `DocumentStore` committing every 20 ms, closed at the end."""
    url = database_url(tmp_path, None)
    await asyncio.to_thread(migrate, url)
    engine = create_engine(url)
    document_store = DocumentStore(engine, commit_interval=0.02)
    await document_store.start()
    yield document_store
    await document_store.close()
    await engine.dispose()
