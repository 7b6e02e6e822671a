"""Where a document store keeps its update log and snapshots: one interface, two homes.

`SqliteFileLog` works on an SQLite file directly, one hop to a thread per commit or load;
`DatabaseLog` goes through the async engine (PostgreSQL, or SQLite in memory). The store's
logic (group commit, compaction, merging) is the same on both: `update_log_for` picks one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import func, insert, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from realtime.tables import document_updates, documents


class UpdateLog(Protocol):
    """The database side of a document store."""

    async def insert(self, rows: list[tuple[str, bytes]]) -> None:
        """Append (document name, update) rows in one transaction."""

    async def load(self, name: str) -> list[tuple[bytes, int]]:
        """The document's snapshot (part 0) and log rows (part 1), read in one statement."""

    async def read_for_compaction(self, name: str) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        """(snapshot version, snapshot, [(log id, data)] in log order), in one read."""

    async def replace_snapshot(
        self, name: str, version: int, snapshot: bytes, merged: int, max_id: int
    ) -> bool:
        """Store `snapshot` and delete the merged log rows; False if another process won."""

    async def close(self) -> None: ...


def update_log_for(engine: AsyncEngine) -> UpdateLog:
    """The SQLite file itself when `engine` is on one, else the engine."""
    url = engine.url
    in_memory = url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    if url.get_backend_name() == "sqlite" and not in_memory:
        if not str(url.database).startswith("file:"):
            return SqliteFileLog(str(url.database))
    return DatabaseLog(engine)


class SqliteFileLog:
    """Group commits and document loads on an SQLite file, each in one hop to a thread.

    Through the async engine a commit is five round trips to aiosqlite's thread (checkout,
    BEGIN, INSERT, COMMIT, reset) and a load four, each waking the event loop; here each is
    one. Commits run on a thread of their own with their own connection, opened there with the
    engine's settings (WAL, busy timeout); loads on another, so that a reconnect storm's loads
    never queue behind a commit's fsync (WAL lets readers and the writer run together).
    """

    _INSERT = "INSERT INTO document_updates (name, data) VALUES (?, ?)"
    # One statement, hence one read transaction: a compaction committing in between cannot
    # make us read the old snapshot with the new log.
    _LOAD = (
        "SELECT snapshot, 0 FROM documents WHERE name = ? "
        "UNION ALL SELECT data, 1 FROM document_updates WHERE name = ?"
    )

    def __init__(self, path: str, busy_timeout_ms: int = 15_000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="document-store-commit")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="document-store-load")
        self._connections: dict[ThreadPoolExecutor, sqlite3.Connection] = {}

    def _connection(self, thread: ThreadPoolExecutor) -> sqlite3.Connection:
        connection = self._connections.get(thread)
        if connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=True)
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            if thread is self._writer:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
            self._connections[thread] = connection
        return connection

    async def insert(self, rows: list[tuple[str, bytes]]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self._insert, rows)

    def _insert(self, rows: list[tuple[str, bytes]]) -> None:
        connection = self._connection(self._writer)
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(self._INSERT, rows)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    async def load(self, name: str) -> list[tuple[bytes, int]]:
        """The document's snapshot (part 0) and log rows (part 1), read in one statement."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._load, name)

    def _load(self, name: str) -> list[tuple[bytes, int]]:
        rows = self._connection(self._reader).execute(self._LOAD, (name, name)).fetchall()
        return [(bytes(data), part) for data, part in rows]

    async def read_for_compaction(self, name: str) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        """(snapshot version, snapshot, [(log id, data)] in log order), in one read transaction."""
        return await asyncio.get_running_loop().run_in_executor(
            self._reader, self._read_for_compaction, name
        )

    def _read_for_compaction(self, name: str) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        connection = self._connection(self._reader)
        connection.execute("BEGIN")
        try:
            row = connection.execute(
                "SELECT snapshot_updates, snapshot FROM documents WHERE name = ?", (name,)
            ).fetchone()
            log = connection.execute(
                "SELECT id, data FROM document_updates WHERE name = ? ORDER BY id", (name,)
            ).fetchall()
        finally:
            connection.execute("COMMIT")
        version, snapshot = (0, b"") if row is None else (int(row[0]), bytes(row[1]))
        return version, snapshot, [(int(id_), bytes(data)) for id_, data in log]

    async def replace_snapshot(
        self, name: str, version: int, snapshot: bytes, merged: int, max_id: int
    ) -> bool:
        """Store `snapshot` and delete the merged log rows; False if another process won."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._replace_snapshot, name, version, snapshot, merged, max_id
        )

    def _replace_snapshot(
        self, name: str, version: int, snapshot: bytes, merged: int, max_id: int
    ) -> bool:
        connection = self._connection(self._writer)
        connection.execute("BEGIN IMMEDIATE")  # the write lock first: nobody changes it now
        try:
            row = connection.execute(
                "SELECT snapshot_updates FROM documents WHERE name = ?", (name,)
            ).fetchone()
            if (0 if row is None else int(row[0])) != version:
                connection.execute("ROLLBACK")
                return False
            connection.execute(
                "INSERT INTO documents (name, snapshot, snapshot_updates, updated_at) "
                "VALUES (?, ?, ?, CURRENT_TIMESTAMP) ON CONFLICT (name) DO UPDATE SET "
                "snapshot = excluded.snapshot, "
                "snapshot_updates = documents.snapshot_updates + ?, "
                "updated_at = CURRENT_TIMESTAMP",
                (name, snapshot, merged, merged),
            )
            deleted = connection.execute(
                "DELETE FROM document_updates WHERE name = ? AND id <= ?", (name, max_id)
            ).rowcount
            if deleted != merged:
                connection.execute("ROLLBACK")
                return False
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return True

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for thread in (self._writer, self._reader):

            def close_connection(thread: ThreadPoolExecutor = thread) -> None:
                connection = self._connections.pop(thread, None)
                if connection is not None:
                    connection.close()

            await loop.run_in_executor(thread, close_connection)
            thread.shutdown(wait=False)


def _sqlite_file(engine: AsyncEngine) -> str | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("mode") == "memory" or str(url.database).startswith("file:"):
        return None
    return str(url.database)


class _Conflict(Exception):
    """Another compaction changed the document between our read and our write."""


class DatabaseLog:
    """The update log through the async engine (PostgreSQL; SQLite in memory)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, rows: list[tuple[str, bytes]]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(document_updates), [{"name": name, "data": data} for name, data in rows]
            )

    async def load(self, name: str) -> list[tuple[bytes, int]]:
        # One statement, so one database snapshot even at READ COMMITTED: a compaction
        # committing in between cannot make us read the old snapshot with the new log.
        snapshot_part = select(documents.c.snapshot.label("data"), literal(0).label("part")).where(
            documents.c.name == name
        )
        log_part = select(document_updates.c.data, literal(1).label("part")).where(
            document_updates.c.name == name
        )
        async with self._engine.connect() as connection:
            result = await connection.execute(union_all(snapshot_part, log_part))
            return [(bytes(row.data), row.part) for row in result]

    async def read_for_compaction(self, name: str) -> tuple[int, bytes, list[tuple[int, bytes]]]:
        async with self._engine.connect() as connection:
            version, snapshot = await _read_snapshot(connection, name)
            log = (
                await connection.execute(
                    select(document_updates.c.id, document_updates.c.data)
                    .where(document_updates.c.name == name)
                    .order_by(document_updates.c.id)
                )
            ).all()
        return version, snapshot, [(int(row.id), bytes(row.data)) for row in log]

    async def replace_snapshot(
        self, name: str, version: int, snapshot: bytes, merged: int, max_id: int
    ) -> bool:
        try:
            async with self._engine.begin() as connection:  # a conflict raised here rolls back
                # First statement writes, so on SQLite it takes the write lock before reading.
                await connection.execute(_insert_if_missing(connection, name))
                current, _ = await _read_snapshot(connection, name, for_update=True)
                if current != version:
                    raise _Conflict
                await connection.execute(
                    documents.update()
                    .where(documents.c.name == name)
                    .values(
                        snapshot=snapshot,
                        snapshot_updates=documents.c.snapshot_updates + merged,
                        updated_at=func.now(),
                    )
                )
                deleted = await connection.execute(
                    document_updates.delete().where(
                        document_updates.c.name == name, document_updates.c.id <= max_id
                    )
                )
                # Under READ COMMITTED a row with a smaller id can commit after our read (ids
                # are taken at insert, committed in any order): it would be deleted unmerged.
                if deleted.rowcount != merged:
                    raise _Conflict
        except _Conflict:
            return False
        return True

    async def close(self) -> None:
        return None


async def _read_snapshot(
    connection: AsyncConnection, name: str, *, for_update: bool = False
) -> tuple[int, bytes]:
    query = select(documents.c.snapshot_updates, documents.c.snapshot).where(
        documents.c.name == name
    )
    if for_update:
        # PostgreSQL: row lock against other processes' compactions. SQLite renders nothing;
        # its single writer lock, already held, does the same job.
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    if row is None:
        return 0, b""
    return int(row.snapshot_updates), bytes(row.snapshot)


def _insert_if_missing(connection: AsyncConnection, name: str) -> postgresql.Insert | sqlite.Insert:
    values = {"name": name, "snapshot": b"", "snapshot_updates": 0}
    if connection.dialect.name == "postgresql":
        return postgresql.insert(documents).values(values).on_conflict_do_nothing()
    return sqlite.insert(documents).values(values).on_conflict_do_nothing()
