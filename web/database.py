"""Database URL, engine and schema migrations, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 15_000  # a slow disk or a busy machine must not turn a wait into an error
# The data folder holds the database, the secret key and uploaded files: its owner's only.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
FILES_FOLDER = "files"

log = logging.getLogger("atelier.data")

_SCHEME_REWRITES = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class DatabaseError(Exception):
    """A database setting or migration problem."""


def database_url(data_dir: Path, url: str | None) -> str:
    """The SQLAlchemy async URL: the given one (normalised) or a SQLite file in `data_dir`."""
    url = (url or "").strip()
    if not url:
        return f"sqlite+aiosqlite:///{(data_dir / 'atelier.db').resolve()}"
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseError("DATABASE_URL must look like postgresql://user@host/db")
    driver = _SCHEME_REWRITES.get(scheme.lower())
    if driver is None:
        # Only the scheme is echoed: the rest may hold a password.
        raise DatabaseError(
            f"unsupported DATABASE_URL scheme {scheme!r}: use postgresql:// or sqlite://"
        )
    return f"{driver}://{rest}"


def _tighten(path: Path, mode: int) -> None:
    """Take group and other permissions away from `path` (never adds any), saying so."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode & 0o777:
            path.chmod(current & mode)
            log.info(
                "tightened the permissions of %s from %04o to %04o", path, current, current & mode
            )
    except OSError as exc:  # not ours, or gone meanwhile: say so, do not stop the server
        log.warning("could not tighten the permissions of %s: %s", path, exc)


def prepare_data_dir(data_dir: Path) -> None:
    """Create the data folder and its files folder 0700; tighten what older releases left open.

    The folder's direct entries (database, its -wal and -shm, `secret_key`, `files/`) become
    0600 (files) and 0700 (folders); anything deeper is out of reach through the folder.
    """
    data_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(data_dir, PRIVATE_DIR_MODE)
    (data_dir / FILES_FOLDER).mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    for entry in sorted(data_dir.iterdir()):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            _tighten(entry, PRIVATE_DIR_MODE)
        elif entry.is_file():
            _tighten(entry, PRIVATE_FILE_MODE)


def _create_private_file(path: Path) -> None:
    """Create an empty `path` readable by its owner only, unless it exists.

    SQLite gives a database's -wal and -shm files the database file's permissions, so all
    three stay private; an empty file is a valid new database.
    """
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        pass


def _is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class SqliteEngine(AsyncEngine):
    """An SQLite engine whose `begin()` takes the write lock at once (BEGIN IMMEDIATE).

    In WAL mode a transaction that reads, then writes, cannot upgrade its read snapshot once
    another connection committed meanwhile: SQLite answers "database is locked" at once,
    without waiting (the busy timeout cannot help). Documents are committed every few tens of
    milliseconds while people type, so every `engine.begin()` (the app's way to write) starts
    as a writer and waits its turn instead; `engine.connect()` (reads) stays a plain BEGIN.
    """

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self.connect() as connection:
            await connection.execution_options(sqlite_begin_immediate=True)
            async with connection.begin():
                yield connection


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and real BEGINs for multi-process use."""
    parsed = make_url(url)
    # hide_parameters: statement parameters are document bytes, useless and large in logs.
    options: dict[str, Any] = {"hide_parameters": True}
    if not _is_sqlite(parsed):
        # A server connection can die behind the pool's back; a file cannot.
        return create_async_engine(parsed, pool_pre_ping=True, **options)

    path = _sqlite_file(parsed)
    if path is not None:
        _create_private_file(path)
    engine = SqliteEngine(create_async_engine(parsed, **options).sync_engine)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # The sqlite3 driver's legacy mode never BEGINs before a SELECT, so reads in a
        # transaction would not share one snapshot; we emit BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL waits for other processes' locks.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # `sqlite_begin_immediate` takes the write lock at BEGIN, for read-then-write work.
        immediate = connection.get_execution_options().get("sqlite_begin_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def metadata_list() -> list[MetaData]:
    """The table metadatas the migrations cover."""
    from realtime.tables import metadata as realtime_metadata
    from web.schema import metadata as web_metadata

    return [realtime_metadata, web_metadata]


def alembic_config(url: str) -> Config:
    """An Alembic configuration for `url`, built in code (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not the sqlalchemy.url option: no configparser interpolation of
    # '%' in passwords, and the URL never lands in a config dump.
    config.attributes["database_url"] = url
    return config


# Alembic loads env.py as a module each run, which is not thread-safe within one process.
# (Across processes, env.py takes a database lock.)
_upgrade_lock = threading.Lock()


def _upgrade(url: str) -> None:
    with _upgrade_lock:
        command.upgrade(alembic_config(url), "heads")


def migrate(url: str) -> None:
    """Upgrade the database at `url` to the latest schema; a no-op when already there.

    Synchronous. From async code prefer `await asyncio.to_thread(migrate, url)`; called with
    an event loop running in this thread, it runs the migration on a helper thread and waits.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        _upgrade(url)
        return

    failure: list[BaseException] = []

    def run() -> None:
        try:
            _upgrade(url)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="atelier-migrate")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
